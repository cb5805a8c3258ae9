package network

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestLoadConfig: which file of the directory becomes the network, and
// what the operator is told when none can.
func TestLoadConfig(t *testing.T) {
	bin := t.TempDir()
	for _, p := range []string{"good", "other"} {
		if err := os.WriteFile(filepath.Join(bin, p), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	list := func(name, typ string) string {
		return `{"cniVersion":"1.0.0","name":"` + name + `","plugins":[{"type":"` + typ + `"}]}`
	}
	tests := []struct {
		name    string
		files   map[string]string
		network string   // want this network
		reasons []string // else want ErrNotReady mentioning these
	}{
		{name: "empty directory", reasons: []string{"no CNI network configuration in"}},
		{name: "other extensions ignored", files: map[string]string{"10-a.txt": list("a", "good")}, reasons: []string{"no CNI network configuration"}},
		{name: "first in lexical order wins", files: map[string]string{"20-b.conflist": list("b", "good"), "10-a.conflist": list("a", "other")}, network: "a"},
		{name: "single plugin .conf", files: map[string]string{"10-c.conf": `{"cniVersion":"1.0.0","name":"c","type":"good"}`}, network: "c"},
		{name: "invalid JSON is passed over", files: map[string]string{"10-bad.conflist": "{not json", "20-ok.conflist": list("ok", "good")}, network: "ok"},
		{
			name:    "nothing loadable: each file's reason",
			files:   map[string]string{"10-bad.conflist": "{not json", "20-missing.conflist": list("m", "absent-plugin"), "99-lo.conf": `{"cniVersion":"1.0.0","name":"lo","type":"loopback"}`},
			reasons: []string{"no loadable CNI network configuration in", "10-bad.conflist:", `20-missing.conflist: plugin "absent-plugin" not found`, "99-lo.conf: only the loopback plugin"},
		},
		{name: "no plugins", files: map[string]string{"10-x.conflist": `{"cniVersion":"1.0.0","name":"x","plugins":[]}`}, reasons: []string{"10-x.conflist:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for f, c := range tt.files {
				if err := os.WriteFile(filepath.Join(dir, f), []byte(c), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			cfg, err := loadConfig(dir, []string{bin})
			if tt.network != "" {
				if err != nil {
					t.Fatal(err)
				}
				if cfg.list.Name != tt.network {
					t.Fatalf("network %q, want %q", cfg.list.Name, tt.network)
				}
				return
			}
			if !errors.Is(err, ErrNotReady) {
				t.Fatalf("err = %v, want ErrNotReady", err)
			}
			for _, r := range append(tt.reasons, dir) {
				if !strings.Contains(err.Error(), r) {
					t.Errorf("message %q lacks %q", err, r)
				}
			}
		})
	}
}

// TestReadinessFollowsDirectory: NetworkReady flips as configurations
// appear, break, lose a plugin and disappear, without a restart.
func TestReadinessFollowsDirectory(t *testing.T) {
	requireCNI(t)
	tn := newTestNet(t, 254)
	m := tn.manager(t, Options{})
	status := func() (bool, string, string) { return m.NetworkStatus() }
	if ready, reason, msg := status(); ready || reason != NotReadyReason || !strings.Contains(msg, tn.confDir) {
		t.Fatalf("empty dir: %v %q %q; want not ready naming %s", ready, reason, msg, tn.confDir)
	}
	isReady := func() bool { r, _, _ := status(); return r }
	notReady := func() bool { r, _, _ := status(); return !r }

	tn.installPlugin(t, "recorder")
	conf := filepath.Join(tn.confDir, "10-rec.conflist")
	tn.writeConf(t, "10-rec.conflist", `{"cniVersion":"1.0.0","name":"rec","plugins":[{"type":"recorder"}]}`)
	waitFor(t, "ready after a config is dropped in", 10*time.Second, isReady)
	if name, file := m.NetworkName(); name != "rec" || file != conf {
		t.Fatalf("network %q from %q", name, file)
	}

	tn.writeConf(t, "10-rec.conflist", `{"cniVersion":`)
	waitFor(t, "not ready with invalid JSON", 10*time.Second, notReady)

	tn.writeConf(t, "10-rec.conflist", `{"cniVersion":"1.0.0","name":"rec","plugins":[{"type":"recorder"}]}`)
	waitFor(t, "ready again", 10*time.Second, isReady)

	// The plugin binary goes away: the plugin directory is watched too.
	if err := os.Remove(filepath.Join(tn.binDir, "recorder")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "not ready without the plugin", 10*time.Second, notReady)
	if _, _, msg := status(); !strings.Contains(msg, `plugin "recorder" not found`) {
		t.Fatalf("message %q does not say the plugin is missing", msg)
	}
	tn.installPlugin(t, "recorder")
	waitFor(t, "ready with the plugin back", 10*time.Second, isReady)

	if err := os.Remove(conf); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "not ready after the config is removed", 10*time.Second, notReady)

	// The directory itself removed and re-created: found again by polling.
	if err := os.RemoveAll(tn.confDir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(tn.confDir, 0o755); err != nil {
		t.Fatal(err)
	}
	tn.writeConf(t, "10-rec.conflist", `{"cniVersion":"1.0.0","name":"rec","plugins":[{"type":"recorder"}]}`)
	waitFor(t, "ready in a re-created directory", 10*time.Second, isReady)
}

// TestCloseStopsWatching: Close returns once the watcher has stopped, and
// later changes are not followed.
func TestCloseStopsWatching(t *testing.T) {
	tn := newTestNet(t, 249)
	m := tn.manager(t, Options{})
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-m.done:
	default:
		t.Fatal("watch goroutine still running after Close")
	}
	if err := m.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// TestReadinessDirectoryAppears: a configuration directory that does not
// exist at start is not created, and is found once it appears.
func TestReadinessDirectoryAppears(t *testing.T) {
	requireCNI(t)
	tn := newTestNet(t, 248)
	if err := os.Remove(tn.confDir); err != nil {
		t.Fatal(err)
	}
	m := tn.manager(t, Options{})
	if _, err := os.Stat(tn.confDir); !os.IsNotExist(err) {
		t.Fatalf("the configuration directory was created (%v)", err)
	}
	if ready, _, msg := m.NetworkStatus(); ready || !strings.Contains(msg, tn.confDir) {
		t.Fatalf("ready=%v %q", ready, msg)
	}
	tn.installPlugin(t, "recorder")
	if err := os.MkdirAll(tn.confDir, 0o755); err != nil {
		t.Fatal(err)
	}
	tn.writeConf(t, "10-rec.conflist", `{"cniVersion":"1.0.0","name":"rec","plugins":[{"type":"recorder"}]}`)
	waitFor(t, "ready once the directory appears", 10*time.Second, func() bool { r, _, _ := m.NetworkStatus(); return r })
}

// TestDefaultConflist: the network `make run` installs on a node without
// one (testdata/cni) loads with Debian's plugins, and holds no loopback
// plugin (which would replace the chain's result).
func TestDefaultConflist(t *testing.T) {
	if _, err := os.Stat(filepath.Join(systemPluginDir, "bridge")); err != nil {
		t.Skip("CNI plugins not installed:", err)
	}
	cfg, err := loadConfig(filepath.Join("..", "testdata", "cni"), []string{systemPluginDir})
	if err != nil {
		t.Fatal(err)
	}
	types := pluginTypes(cfg)
	if strings.Join(types, ",") != "bridge,portmap" {
		t.Fatalf("default chain %v, want bridge,portmap", types)
	}
	if !cfg.list.Plugins[1].Network.Capabilities["portMappings"] {
		t.Fatal("portmap does not declare the portMappings capability")
	}
}
