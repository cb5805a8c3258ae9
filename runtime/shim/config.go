package shim

import (
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
)

// Config is everything a shim is told at launch. The daemon builds the
// command line with Args and the shim reads it back with ParseArgs, so the
// two sides cannot disagree on flag names.
type Config struct {
	ID       string // container id, as runc knows it
	Bundle   string // absolute OCI bundle directory (config.json, rootfs)
	StateDir string // absolute per-container state directory, owned by the shim

	Runc          string // runc binary
	RuncRoot      string // runc --root
	SystemdCgroup bool   // runc --systemd-cgroup

	LogPath   string // absolute CRI log file; empty: output is not logged
	Stdin     bool   // the container gets a stdin pipe (else /dev/null)
	StdinOnce bool   // close the container's stdin when the first attached stdin ends
	Terminal  bool   // the container runs on a pty (process.terminal in the spec)
	// Start runs the container at once (runc run --detach) instead of
	// leaving it created (runc create): one runc process instead of a
	// create and a start, for containers nobody starts separately (a
	// pod's infra process).
	Start bool

	// ReadyFD is the inherited descriptor on which the shim reports
	// readiness (a Ready record) and which it then closes; 0 means none.
	ReadyFD int
}

// Args renders c as the shim's command-line arguments.
func (c Config) Args() []string {
	a := []string{
		"-id", c.ID,
		"-bundle", c.Bundle,
		"-state", c.StateDir,
		"-runc", c.Runc,
		"-runc-root", c.RuncRoot,
	}
	if c.SystemdCgroup {
		a = append(a, "-systemd-cgroup")
	}
	if c.LogPath != "" {
		a = append(a, "-log", c.LogPath)
	}
	if c.Stdin {
		a = append(a, "-stdin")
	}
	if c.StdinOnce {
		a = append(a, "-stdin-once")
	}
	if c.Terminal {
		a = append(a, "-tty")
	}
	if c.Start {
		a = append(a, "-start")
	}
	if c.ReadyFD != 0 {
		a = append(a, "-ready-fd", strconv.Itoa(c.ReadyFD))
	}
	return a
}

// ParseArgs is the inverse of Args; the result is validated.
func ParseArgs(args []string) (Config, error) {
	var c Config
	fs := flag.NewFlagSet("logbook-shim", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&c.ID, "id", "", "container id")
	fs.StringVar(&c.Bundle, "bundle", "", "OCI bundle directory")
	fs.StringVar(&c.StateDir, "state", "", "per-container state directory")
	fs.StringVar(&c.Runc, "runc", "", "runc binary")
	fs.StringVar(&c.RuncRoot, "runc-root", "", "runc --root")
	fs.BoolVar(&c.SystemdCgroup, "systemd-cgroup", false, "runc --systemd-cgroup")
	fs.StringVar(&c.LogPath, "log", "", "CRI log file")
	fs.BoolVar(&c.Stdin, "stdin", false, "give the container a stdin pipe")
	fs.BoolVar(&c.StdinOnce, "stdin-once", false, "close stdin after the first attach")
	fs.BoolVar(&c.Terminal, "tty", false, "run the container on a terminal")
	fs.BoolVar(&c.Start, "start", false, "start the container at once (runc run --detach)")
	fs.IntVar(&c.ReadyFD, "ready-fd", 0, "descriptor to report readiness on")
	if err := fs.Parse(args); err != nil {
		return Config{}, fmt.Errorf("%w: %v", ErrBadConfig, err)
	}
	if fs.NArg() != 0 {
		return Config{}, fmt.Errorf("%w: unexpected argument %q", ErrBadConfig, fs.Arg(0))
	}
	return c, c.Validate()
}

// Validate checks the fields a shim cannot run without.
func (c Config) Validate() error {
	if c.ID == "" {
		return fmt.Errorf("%w: no container id", ErrBadConfig)
	}
	if filepath.Base(c.ID) != c.ID || c.ID == "." || c.ID == ".." {
		return fmt.Errorf("%w: container id %q is not a plain name", ErrBadConfig, c.ID)
	}
	for _, p := range []struct{ name, path string }{
		{"bundle", c.Bundle}, {"state", c.StateDir}, {"runc-root", c.RuncRoot},
	} {
		if !filepath.IsAbs(p.path) {
			return fmt.Errorf("%w: %s %q is not an absolute path", ErrBadConfig, p.name, p.path)
		}
	}
	if c.LogPath != "" && !filepath.IsAbs(c.LogPath) {
		return fmt.Errorf("%w: log %q is not an absolute path", ErrBadConfig, c.LogPath)
	}
	if c.Runc == "" {
		return fmt.Errorf("%w: no runc binary", ErrBadConfig)
	}
	if c.StdinOnce && !c.Stdin {
		return fmt.Errorf("%w: stdin-once without stdin", ErrBadConfig)
	}
	if c.ReadyFD < 0 || (c.ReadyFD > 0 && c.ReadyFD < 3) {
		return fmt.Errorf("%w: ready-fd %d is not an inherited extra descriptor", ErrBadConfig, c.ReadyFD)
	}
	return nil
}
