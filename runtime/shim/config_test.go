package shim

import (
	"errors"
	"reflect"
	"testing"
)

func validConfig() Config {
	return Config{
		ID: "abc", Bundle: "/b", StateDir: "/s", Runc: "/usr/sbin/runc", RuncRoot: "/run/logbook/runc",
		SystemdCgroup: true, LogPath: "/var/log/pods/x/0.log", Stdin: true, StdinOnce: true, Terminal: true, Start: true, ReadyFD: 3,
	}
}

func TestConfigArgsRoundTrip(t *testing.T) {
	for _, c := range []Config{
		validConfig(),
		{ID: "minimal", Bundle: "/b", StateDir: "/s", Runc: "runc", RuncRoot: "/r"},
	} {
		got, err := ParseArgs(c.Args())
		if err != nil {
			t.Fatalf("%+v: %v", c, err)
		}
		if !reflect.DeepEqual(got, c) {
			t.Errorf("round trip %+v, want %+v", got, c)
		}
	}
}

func TestConfigValidation(t *testing.T) {
	for name, mutate := range map[string]func(*Config){
		"no id":               func(c *Config) { c.ID = "" },
		"id with a slash":     func(c *Config) { c.ID = "a/b" },
		"id dot dot":          func(c *Config) { c.ID = ".." },
		"relative bundle":     func(c *Config) { c.Bundle = "b" },
		"relative state":      func(c *Config) { c.StateDir = "s" },
		"relative runc root":  func(c *Config) { c.RuncRoot = "" },
		"relative log":        func(c *Config) { c.LogPath = "0.log" },
		"no runc":             func(c *Config) { c.Runc = "" },
		"stdin once no stdin": func(c *Config) { c.Stdin = false },
		"ready on stdio":      func(c *Config) { c.ReadyFD = 1 },
		"negative ready":      func(c *Config) { c.ReadyFD = -1 },
	} {
		c := validConfig()
		mutate(&c)
		if err := c.Validate(); !errors.Is(err, ErrBadConfig) {
			t.Errorf("%s: %v, want ErrBadConfig", name, err)
		}
	}
	for _, args := range [][]string{{"-nope"}, append(validConfig().Args(), "extra")} {
		if _, err := ParseArgs(args); !errors.Is(err, ErrBadConfig) {
			t.Errorf("%q: %v, want ErrBadConfig", args, err)
		}
	}
}
