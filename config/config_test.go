package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// fakeLookPath resolves bare names to /usr/sbin/<name> and accepts absolute
// paths unless they contain "missing".
func fakeLookPath(file string) (string, error) {
	if strings.Contains(file, "missing") {
		return "", errors.New("executable file not found")
	}
	if filepath.IsAbs(file) {
		return file, nil
	}
	return "/usr/sbin/" + file, nil
}

// TestValidKeys sets every key from a file and checks that it lands in the
// right field, then sets it again through Set (the flag path) and checks the
// same field.
func TestValidKeys(t *testing.T) {
	cases := []struct {
		key   string
		json  string
		flag  string
		check func(*Config) bool
	}{
		{"enable-cri-v1", `true`, "true", func(c *Config) bool { return c.EnableCRIV1 }},
		{"systemd-cgroup", `true`, "true", func(c *Config) bool { return c.SystemdCgroup && c.CgroupDriver() == "systemd" }},
		{"enable-pod-events", `true`, "1", func(c *Config) bool { return c.EnablePodEvents }},
		{"root", `"/srv/lb/root/"`, "/srv/lb/root/", func(c *Config) bool { return c.Root == "/srv/lb/root" }},
		{"state", `"/run/lb2"`, "/run/lb2", func(c *Config) bool { return c.State == "/run/lb2" && c.Socket == "/run/lb2/logbook.sock" }},
		{"socket", `"/tmp/x/cri.sock"`, "/tmp/x/cri.sock", func(c *Config) bool { return c.Socket == "/tmp/x/cri.sock" }},
		{"runtime-path", `"/opt/runc"`, "/opt/runc", func(c *Config) bool { return c.RuntimePath == "/opt/runc" }},
		{"log-level", `"debug"`, "debug", func(c *Config) bool { return c.LogLevel == LevelDebug && c.LogLevel.Slog().String() == "DEBUG" }},
		{"metrics-address", `"[::1]:9999"`, "[::1]:9999", func(c *Config) bool { return c.MetricsAddress == "[::1]:9999" }},
		{"metrics-allow-non-loopback", `true`, "true", func(c *Config) bool { return c.MetricsAllowNonLoopback }},
		{"enable-profiling", `true`, "true", func(c *Config) bool { return c.EnableProfiling }},
		{"registry-mirrors", `{"docker.io":["https://m1.example","http://10.0.0.1:5000"]}`, "docker.io=https://m1.example,http://10.0.0.1:5000",
			func(c *Config) bool {
				return reflect.DeepEqual(c.RegistryMirrors, map[string][]string{"docker.io": {"https://m1.example", "http://10.0.0.1:5000"}})
			}},
		{"cni-conf-dir", `"/etc/cni/other"`, "/etc/cni/other", func(c *Config) bool { return c.CNIConfDir == "/etc/cni/other" }},
		{"cni-bin-dir", `"/a:/b"`, "/a:/b", func(c *Config) bool { return reflect.DeepEqual(c.CNIBinDirs(), []string{"/a", "/b"}) }},
		{"pod-sandbox-image", `"localhost:5000/pause:3.10"`, "localhost:5000/pause:3.10", func(c *Config) bool { return c.PodSandboxImage == "localhost:5000/pause:3.10" }},
		{"stream-address", `"0.0.0.0:10010"`, "0.0.0.0:10010", func(c *Config) bool { return c.StreamAddress == "0.0.0.0:10010" }},
		{"journal-retention", `"90m"`, "90m", func(c *Config) bool { return c.JournalRetention.Std() == 90*time.Minute }},
	}
	covered := map[string]bool{}
	for _, tc := range cases {
		covered[tc.key] = true
		t.Run(tc.key+"/file", func(t *testing.T) {
			c := Default()
			if err := c.ApplyJSON([]byte(fmt.Sprintf(`{%q: %s}`, tc.key, tc.json))); err != nil {
				t.Fatalf("ApplyJSON: %v", err)
			}
			if err := c.Finish(fakeLookPath); err != nil {
				t.Fatalf("Finish: %v", err)
			}
			if !tc.check(c) {
				t.Errorf("key not applied: %s", c.JSON())
			}
		})
		t.Run(tc.key+"/flag", func(t *testing.T) {
			c := Default()
			if err := c.Set(tc.key, tc.flag); err != nil {
				t.Fatalf("Set: %v", err)
			}
			if err := c.Finish(fakeLookPath); err != nil {
				t.Fatalf("Finish: %v", err)
			}
			if !tc.check(c) {
				t.Errorf("key not applied: %s", c.JSON())
			}
		})
	}
	for _, k := range KeyNames() {
		if !covered[k] {
			t.Errorf("key %q has no valid-value case", k)
		}
	}
}

func TestDefaults(t *testing.T) {
	c := Default()
	if err := c.ApplyJSON([]byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	if err := c.Finish(fakeLookPath); err != nil {
		t.Fatal(err)
	}
	want := &Config{
		EnableCRIV1:      true,
		Root:             "/var/lib/logbook",
		State:            "/run/logbook",
		Socket:           "/run/logbook/logbook.sock",
		RuntimePath:      "/usr/sbin/runc",
		LogLevel:         LevelInfo,
		MetricsAddress:   "127.0.0.1:9120",
		RegistryMirrors:  map[string][]string{},
		CNIConfDir:       "/etc/cni/net.d",
		CNIBinDir:        "/usr/lib/cni:/opt/cni/bin",
		StreamAddress:    "127.0.0.1:0",
		JournalRetention: Duration(24 * time.Hour),
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("defaults:\n got %s\nwant %s", c.JSON(), want.JSON())
	}
	if c.CgroupDriver() != "cgroupfs" {
		t.Errorf("CgroupDriver = %q", c.CgroupDriver())
	}
}

// TestWrongType gives every key a value of the wrong JSON type and checks
// the error names the key.
func TestWrongType(t *testing.T) {
	wrong := map[string]string{
		"enable-cri-v1":              `"yes"`,
		"systemd-cgroup":             `1`,
		"enable-pod-events":          `"true"`,
		"root":                       `42`,
		"state":                      `["/run"]`,
		"socket":                     `true`,
		"runtime-path":               `{}`,
		"log-level":                  `3`,
		"metrics-address":            `9120`,
		"metrics-allow-non-loopback": `"no"`,
		"enable-profiling":           `"on"`,
		"registry-mirrors":           `["https://m1"]`,
		"cni-conf-dir":               `false`,
		"cni-bin-dir":                `["/a","/b"]`,
		"pod-sandbox-image":          `1.5`,
		"stream-address":             `{"host":"x"}`,
		"journal-retention":          `86400`,
	}
	for _, k := range KeyNames() {
		v, ok := wrong[k]
		if !ok {
			t.Errorf("key %q has no wrong-type case", k)
			continue
		}
		t.Run(k, func(t *testing.T) {
			err := Default().ApplyJSON([]byte(fmt.Sprintf(`{%q: %s}`, k, v)))
			assertKeyError(t, err, k, ErrInvalidValue)
		})
		t.Run(k+"/null", func(t *testing.T) {
			err := Default().ApplyJSON([]byte(fmt.Sprintf(`{%q: null}`, k)))
			assertKeyError(t, err, k, ErrInvalidValue)
		})
	}
	// The mirrors' inner shape is typed too.
	err := Default().ApplyJSON([]byte(`{"registry-mirrors": {"docker.io": "https://m1"}}`))
	assertKeyError(t, err, "registry-mirrors", ErrInvalidValue)
}

// TestBadValues: values of the right type that fail validation.
func TestBadValues(t *testing.T) {
	cases := []struct {
		name string
		json string
		key  string
		want error
	}{
		{"cri v1 disabled", `{"enable-cri-v1": false}`, "enable-cri-v1", ErrCRIv1Disabled},
		{"relative root", `{"root": "var/lib/logbook"}`, "root", ErrInvalidValue},
		{"empty root", `{"root": ""}`, "root", ErrInvalidValue},
		{"relative state", `{"state": "run"}`, "state", ErrInvalidValue},
		{"empty state", `{"state": ""}`, "state", ErrInvalidValue},
		{"relative socket", `{"socket": "logbook.sock"}`, "socket", ErrInvalidValue},
		{"long socket", `{"socket": "/` + strings.Repeat("s", 120) + `"}`, "socket", ErrInvalidValue},
		{"long derived socket", `{"state": "/` + strings.Repeat("s", 100) + `"}`, "socket", ErrInvalidValue},
		{"relative runtime", `{"runtime-path": "./runc"}`, "runtime-path", ErrInvalidValue},
		{"empty runtime", `{"runtime-path": ""}`, "runtime-path", ErrInvalidValue},
		{"runtime not found", `{"runtime-path": "/opt/missing/runc"}`, "runtime-path", ErrInvalidValue},
		{"runtime name not in PATH", `{"runtime-path": "missing-runc"}`, "runtime-path", ErrInvalidValue},
		{"log level", `{"log-level": "verbose"}`, "log-level", ErrInvalidValue},
		{"log level case", `{"log-level": "INFO"}`, "log-level", ErrInvalidValue},
		{"metrics not host:port", `{"metrics-address": "localhost"}`, "metrics-address", ErrInvalidValue},
		{"metrics bad port", `{"metrics-address": "127.0.0.1:http"}`, "metrics-address", ErrInvalidValue},
		{"metrics port range", `{"metrics-address": "127.0.0.1:70000"}`, "metrics-address", ErrInvalidValue},
		{"metrics all interfaces", `{"metrics-address": ":9120"}`, "metrics-address", ErrInvalidValue},
		{"metrics public ip", `{"metrics-address": "10.1.2.3:9120"}`, "metrics-address", ErrInvalidValue},
		{"metrics hostname", `{"metrics-address": "node1:9120"}`, "metrics-address", ErrInvalidValue},
		{"profiling without metrics", `{"enable-profiling": true, "metrics-address": ""}`, "enable-profiling", ErrInvalidValue},
		{"mirror empty host", `{"registry-mirrors": {"": ["https://m"]}}`, "registry-mirrors", ErrInvalidValue},
		{"mirror host with scheme", `{"registry-mirrors": {"https://docker.io": ["https://m"]}}`, "registry-mirrors", ErrInvalidValue},
		{"mirror host with path", `{"registry-mirrors": {"docker.io/library": ["https://m"]}}`, "registry-mirrors", ErrInvalidValue},
		{"mirror host bad port", `{"registry-mirrors": {"localhost:99999": ["https://m"]}}`, "registry-mirrors", ErrInvalidValue},
		{"mirror empty list", `{"registry-mirrors": {"docker.io": []}}`, "registry-mirrors", ErrInvalidValue},
		{"mirror malformed url", `{"registry-mirrors": {"docker.io": ["http://[::1"]}}`, "registry-mirrors", ErrInvalidValue},
		{"mirror relative url", `{"registry-mirrors": {"docker.io": ["mirror.local"]}}`, "registry-mirrors", ErrInvalidValue},
		{"mirror other scheme", `{"registry-mirrors": {"docker.io": ["ftp://m"]}}`, "registry-mirrors", ErrInvalidValue},
		{"mirror url with path", `{"registry-mirrors": {"docker.io": ["http://10.0.0.1:5000/v2"]}}`, "registry-mirrors", ErrInvalidValue},
		{"mirror no host", `{"registry-mirrors": {"docker.io": ["https:///v2"]}}`, "registry-mirrors", ErrInvalidValue},
		{"mirror credentials", `{"registry-mirrors": {"docker.io": ["https://u:p@m"]}}`, "registry-mirrors", ErrInvalidValue},
		{"mirror query", `{"registry-mirrors": {"docker.io": ["https://m/?a=b"]}}`, "registry-mirrors", ErrInvalidValue},
		{"relative cni conf", `{"cni-conf-dir": "net.d"}`, "cni-conf-dir", ErrInvalidValue},
		{"empty cni bin", `{"cni-bin-dir": ""}`, "cni-bin-dir", ErrInvalidValue},
		{"relative cni bin", `{"cni-bin-dir": "/usr/lib/cni:bin"}`, "cni-bin-dir", ErrInvalidValue},
		{"bad sandbox image", `{"pod-sandbox-image": "Pause:3.10"}`, "pod-sandbox-image", ErrInvalidValue},
		{"sandbox image with scheme", `{"pod-sandbox-image": "https://registry/pause"}`, "pod-sandbox-image", ErrInvalidValue},
		{"empty stream address", `{"stream-address": ""}`, "stream-address", ErrInvalidValue},
		{"stream address no port", `{"stream-address": "127.0.0.1"}`, "stream-address", ErrInvalidValue},
		{"bad duration", `{"journal-retention": "1 day"}`, "journal-retention", ErrInvalidValue},
		{"negative duration", `{"journal-retention": "-1h"}`, "journal-retention", ErrInvalidValue},
		{"unknown key", `{"systemd_cgroup": true}`, "systemd_cgroup", ErrUnknownKey},
		{"duplicate key", `{"root": "/a", "root": "/b"}`, "root", ErrDuplicateKey},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			err := c.ApplyJSON([]byte(tc.json))
			if err == nil {
				err = c.Finish(fakeLookPath)
			}
			assertKeyError(t, err, tc.key, tc.want)
		})
	}
}

func TestAllErrorsReported(t *testing.T) {
	file := filepath.Join(t.TempDir(), "daemon.json")
	writeFile(t, file, `{"rot": "/x", "state": 1, "root": "relative"}`)
	_, err := Load(file, true, nil, fakeLookPath)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{`"rot"`, `"state"`, `"root"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	c := Default()
	c.Root, c.LogLevel = "rel", "loud"
	err = c.Validate()
	for _, want := range []string{`"root"`, `"log-level"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate error %v does not name %s", err, want)
		}
	}
}

func TestSyntax(t *testing.T) {
	cases := []struct{ name, data, want string }{
		{"empty", ``, "empty"},
		{"array", `[]`, "object"},
		{"string", `"root"`, "object"},
		{"truncated", `{"root": "/x"`, "end of file"},
		{"trailing", `{} {}`, "after the closing brace"},
		{"bad token", "{\n  \"root\": /x\n}", "line 2"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := Default().ApplyJSON([]byte(tc.data))
			if !errors.Is(err, ErrSyntax) {
				t.Fatalf("err = %v, want ErrSyntax", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %q, want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestSetErrors(t *testing.T) {
	cases := []struct{ key, value string }{
		{"systemd-cgroup", "yes please"},
		{"journal-retention", "forever"},
		{"registry-mirrors", "docker.io"},
		{"registry-mirrors", "=https://m"},
		{"no-such-key", "x"},
	}
	for _, tc := range cases {
		err := Default().Set(tc.key, tc.value)
		var ke *KeyError
		if !errors.As(err, &ke) || ke.Key != tc.key {
			t.Errorf("Set(%q, %q) = %v, want a KeyError naming the key", tc.key, tc.value, err)
		}
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "daemon.json")
	writeFile(t, file, `{
		"systemd-cgroup": true,
		"root": "/file/root",
		"state": "/file/state",
		"registry-mirrors": {"docker.io": ["https://from-file"], "quay.io": ["https://q"]}
	}`)

	t.Run("file then flags", func(t *testing.T) {
		c, err := Load(file, true, []Setting{
			{"root", "/flag/root"},
			{"registry-mirrors", "docker.io=http://127.0.0.1:5000"},
			{"systemd-cgroup", "false"},
		}, fakeLookPath)
		if err != nil {
			t.Fatal(err)
		}
		if c.Root != "/flag/root" || c.State != "/file/state" || c.Socket != "/file/state/logbook.sock" || c.SystemdCgroup {
			t.Errorf("layers applied wrongly: %s", c.JSON())
		}
		// The flags replace the file's mirrors as a whole.
		if want := map[string][]string{"docker.io": {"http://127.0.0.1:5000"}}; !reflect.DeepEqual(c.RegistryMirrors, want) {
			t.Errorf("mirrors = %v, want %v", c.RegistryMirrors, want)
		}
	})
	t.Run("missing default file", func(t *testing.T) {
		c, err := Load(filepath.Join(dir, "absent.json"), false, nil, fakeLookPath)
		if err != nil {
			t.Fatal(err)
		}
		if c.Root != "/var/lib/logbook" {
			t.Errorf("Root = %q, want the default", c.Root)
		}
	})
	t.Run("missing explicit file", func(t *testing.T) {
		_, err := Load(filepath.Join(dir, "absent.json"), true, nil, fakeLookPath)
		if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "absent.json") {
			t.Errorf("err = %v, want ErrNotFound naming the file", err)
		}
	})
	t.Run("unreadable file", func(t *testing.T) {
		_, err := Load(dir, true, nil, fakeLookPath) // a directory
		if err == nil || errors.Is(err, ErrNotFound) {
			t.Errorf("err = %v, want a read error", err)
		}
	})
	t.Run("bad file names path and key", func(t *testing.T) {
		bad := filepath.Join(dir, "bad.json")
		writeFile(t, bad, `{"root": "relative"}`)
		_, err := Load(bad, true, nil, fakeLookPath)
		if err == nil {
			t.Fatal("no error")
		}
		// root is valid JSON here; the error comes from Finish.
		assertKeyError(t, err, "root", ErrInvalidValue)
		writeFile(t, bad, `{"root": 1}`)
		_, err = Load(bad, true, nil, fakeLookPath)
		assertKeyError(t, err, "root", ErrInvalidValue)
		if !strings.Contains(err.Error(), bad) {
			t.Errorf("err = %q does not name the file", err)
		}
	})
	t.Run("bad flag", func(t *testing.T) {
		_, err := Load(file, true, []Setting{{"journal-retention", "soon"}}, fakeLookPath)
		assertKeyError(t, err, "journal-retention", ErrInvalidValue)
	})
}

// TestFlags drives the real flag set: every key is a flag with the key's
// name, and the flags override the file.
func TestFlags(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "daemon.json")
	writeFile(t, file, `{"root": "/file/root", "log-level": "warn", "enable-pod-events": true}`)

	fs := flag.NewFlagSet("logbookd", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	f := NewFlags(fs)
	for _, k := range KeyNames() {
		if fs.Lookup(k) == nil {
			t.Errorf("no flag --%s", k)
		}
	}
	err := fs.Parse([]string{
		"--root", "/flag/root",
		"--config=" + file,
		"--systemd-cgroup",
		"--enable-pod-events=false",
		"--registry-mirrors", "docker.io=https://a",
		"--registry-mirrors", "localhost:5000=http://127.0.0.1:5001",
		"--metrics-address=",
	})
	if err != nil {
		t.Fatal(err)
	}
	c, err := f.Load(fakeLookPath)
	if err != nil {
		t.Fatal(err)
	}
	if c.Root != "/flag/root" || c.LogLevel != LevelWarn || !c.SystemdCgroup || c.EnablePodEvents || c.MetricsAddress != "" {
		t.Errorf("flags not applied over the file: %s", c.JSON())
	}
	if len(c.RegistryMirrors) != 2 || c.RegistryMirrors["localhost:5000"][0] != "http://127.0.0.1:5001" {
		t.Errorf("mirrors = %v", c.RegistryMirrors)
	}

	// A malformed flag value is refused while parsing, naming the flag.
	fs = flag.NewFlagSet("logbookd", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	NewFlags(fs)
	err = fs.Parse([]string{"--journal-retention", "a while"})
	if err == nil || !strings.Contains(err.Error(), "journal-retention") {
		t.Errorf("err = %v, want one naming --journal-retention", err)
	}
}

// TestSideBySide: two daemons that differ only in state get different
// sockets; nothing else is shared but the metrics port, which is a key.
func TestSideBySide(t *testing.T) {
	a, b := Default(), Default()
	a.State, b.State = "/run/a", "/run/b"
	if err := a.Finish(fakeLookPath); err != nil {
		t.Fatal(err)
	}
	if err := b.Finish(fakeLookPath); err != nil {
		t.Fatal(err)
	}
	if a.Socket == b.Socket {
		t.Errorf("both daemons derive socket %q", a.Socket)
	}
}

func TestJSONRoundTrip(t *testing.T) {
	c := Default()
	c.RegistryMirrors = map[string][]string{"docker.io": {"https://m"}}
	c.JournalRetention = Duration(36 * time.Hour)
	if err := c.Finish(fakeLookPath); err != nil {
		t.Fatal(err)
	}
	back := Default()
	if err := back.ApplyJSON(c.JSON()); err != nil {
		t.Fatalf("the effective config does not read back: %v\n%s", err, c.JSON())
	}
	if err := back.Finish(fakeLookPath); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, back) {
		t.Errorf("round trip:\n got %s\nwant %s", back.JSON(), c.JSON())
	}
}

func assertKeyError(t *testing.T, err error, key string, want error) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one for key %q", key)
	}
	if !errors.Is(err, want) {
		t.Errorf("err = %v, want %v", err, want)
	}
	if !strings.Contains(err.Error(), fmt.Sprintf("%q", key)) {
		t.Errorf("err = %q does not name key %q", err, key)
	}
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}
