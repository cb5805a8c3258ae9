package config

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"time"
)

// DefaultPath is the file read when --config is not given. Its absence means
// "all defaults"; the absence of a file named with --config is an error.
const DefaultPath = "/etc/logbook/daemon.json"

// SocketName is the socket's file name inside the state directory when the
// "socket" key is left empty.
const SocketName = "logbook.sock"

// Config is the daemon's effective configuration. Its JSON form (the struct
// tags) is the file format, and it is what Status reports in verbose mode.
type Config struct {
	EnableCRIV1     bool `json:"enable-cri-v1"`
	SystemdCgroup   bool `json:"systemd-cgroup"`
	EnablePodEvents bool `json:"enable-pod-events"`

	Root   string `json:"root"`
	State  string `json:"state"`
	Socket string `json:"socket"`

	RuntimePath string   `json:"runtime-path"`
	LogLevel    LogLevel `json:"log-level"`

	MetricsAddress          string `json:"metrics-address"`
	MetricsAllowNonLoopback bool   `json:"metrics-allow-non-loopback"`
	EnableProfiling         bool   `json:"enable-profiling"`

	RegistryMirrors  map[string][]string `json:"registry-mirrors"`
	CNIConfDir       string              `json:"cni-conf-dir"`
	CNIBinDir        string              `json:"cni-bin-dir"`
	PodSandboxImage  string              `json:"pod-sandbox-image"`
	StreamAddress    string              `json:"stream-address"`
	JournalRetention Duration            `json:"journal-retention"`
}

// Default returns the configuration used for every key the file and the
// flags leave alone. Socket is empty: Finish derives it from State, so that
// moving the state directory moves the socket with it.
func Default() *Config {
	return &Config{
		EnableCRIV1:      true,
		Root:             "/var/lib/logbook",
		State:            "/run/logbook",
		RuntimePath:      "runc",
		LogLevel:         LevelInfo,
		MetricsAddress:   "127.0.0.1:9120",
		RegistryMirrors:  map[string][]string{},
		CNIConfDir:       "/etc/cni/net.d",
		CNIBinDir:        "/usr/lib/cni:/opt/cni/bin",
		StreamAddress:    "127.0.0.1:0",
		JournalRetention: Duration(24 * time.Hour),
	}
}

// CgroupDriver names the cgroup manager the daemon uses: "systemd" or
// "cgroupfs".
func (c *Config) CgroupDriver() string {
	if c.SystemdCgroup {
		return "systemd"
	}
	return "cgroupfs"
}

// CNIBinDirs splits "cni-bin-dir" into its directories, in search order.
func (c *Config) CNIBinDirs() []string {
	return filepath.SplitList(c.CNIBinDir)
}

// JSON renders the effective configuration in the file's own format.
func (c *Config) JSON() []byte {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		// Every field is a plain string, bool, map or Duration: this cannot
		// fail, and a panic here would point straight at a broken field.
		panic(fmt.Sprintf("config: marshal: %v", err))
	}
	return b
}

// LogLevel is one of "debug", "info", "warn", "error".
type LogLevel string

const (
	LevelDebug LogLevel = "debug"
	LevelInfo  LogLevel = "info"
	LevelWarn  LogLevel = "warn"
	LevelError LogLevel = "error"
)

// Slog converts the level for log/slog. Unknown levels (which Validate
// rejects) map to info.
func (l LogLevel) Slog() slog.Level {
	switch l {
	case LevelDebug:
		return slog.LevelDebug
	case LevelWarn:
		return slog.LevelWarn
	case LevelError:
		return slog.LevelError
	}
	return slog.LevelInfo
}

func (l LogLevel) valid() bool {
	switch l {
	case LevelDebug, LevelInfo, LevelWarn, LevelError:
		return true
	}
	return false
}

// Duration is a time.Duration written as a Go duration string ("24h",
// "90m") in the file and on the command line.
type Duration time.Duration

// Std returns the standard library value.
func (d Duration) Std() time.Duration { return time.Duration(d) }

func (d Duration) String() string { return time.Duration(d).String() }

// MarshalJSON writes the duration as a string, the same form it is read in.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON accepts only a duration string: a bare number would leave the
// unit to guesswork.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("want a duration string such as \"24h\", got %s", b)
	}
	v, err := parseDuration(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

func parseDuration(s string) (Duration, error) {
	v, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("not a duration (want e.g. \"24h\"): %q", s)
	}
	return Duration(v), nil
}
