package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// key describes one configuration key: its name (the JSON key and the flag
// name), its help text, and where it lives in Config. The type of the field
// decides how a JSON value or a flag string is decoded.
type key struct {
	name  string
	help  string
	field func(*Config) any
}

// keys is the one list of configuration keys; the file decoder, the flags
// and the documentation all walk it. It is a function so that no mutable
// table exists at package level.
func keys() []key {
	return []key{
		{"enable-cri-v1", "serve CRI v1 (the only API served; false is a startup error)", func(c *Config) any { return &c.EnableCRIV1 }},
		{"systemd-cgroup", "use the systemd cgroup driver instead of cgroupfs", func(c *Config) any { return &c.SystemdCgroup }},
		{"enable-pod-events", "serve GetContainerEvents (and timestamps in PodSandboxStatus)", func(c *Config) any { return &c.EnablePodEvents }},
		{"root", "absolute directory for persistent data (journal, images)", func(c *Config) any { return &c.Root }},
		{"state", "absolute directory for runtime state (sockets, locks); cleared by a reboot", func(c *Config) any { return &c.State }},
		{"socket", "absolute path of the CRI unix socket (empty: <state>/" + SocketName + ")", func(c *Config) any { return &c.Socket }},
		{"runtime-path", "OCI runtime binary: an absolute path, or a name looked up in PATH", func(c *Config) any { return &c.RuntimePath }},
		{"log-level", "debug, info, warn or error", func(c *Config) any { return &c.LogLevel }},
		{"metrics-address", "host:port of the Prometheus /metrics endpoint (empty disables it); loopback only unless metrics-allow-non-loopback", func(c *Config) any { return &c.MetricsAddress }},
		{"metrics-allow-non-loopback", "allow metrics-address to listen beyond loopback", func(c *Config) any { return &c.MetricsAllowNonLoopback }},
		{"enable-profiling", "serve Go's pprof profiles at /debug/pprof/ on metrics-address", func(c *Config) any { return &c.EnableProfiling }},
		{"registry-mirrors", "registry host -> ordered endpoint URLs (flag: host=url[,url...], repeatable)", func(c *Config) any { return &c.RegistryMirrors }},
		{"cni-conf-dir", "absolute directory of CNI network configurations", func(c *Config) any { return &c.CNIConfDir }},
		{"cni-bin-dir", "colon-separated absolute directories of CNI plugins", func(c *Config) any { return &c.CNIBinDir }},
		{"pod-sandbox-image", "image reference of the pod infra container (empty: the built-in pause)", func(c *Config) any { return &c.PodSandboxImage }},
		{"stream-address", "host:port of the exec/attach/port-forward streaming server", func(c *Config) any { return &c.StreamAddress }},
		{"journal-retention", "how long journal events are kept before compaction, e.g. 24h (0: forever)", func(c *Config) any { return &c.JournalRetention }},
	}
}

func lookupKey(name string) (key, bool) {
	for _, k := range keys() {
		if k.name == name {
			return k, true
		}
	}
	return key{}, false
}

// KeyNames lists every configuration key in documentation order.
func KeyNames() []string {
	var names []string
	for _, k := range keys() {
		names = append(names, k.name)
	}
	return names
}

// decodeJSON sets the key's field from its JSON value. null is refused: it
// would otherwise leave the default in place and look like it was honoured.
func (k key) decodeJSON(c *Config, raw json.RawMessage) error {
	if strings.TrimSpace(string(raw)) == "null" {
		return invalid(k.name, "null is not a value; remove the key to get the default")
	}
	switch p := k.field(c).(type) {
	case *map[string][]string:
		// Decode into a fresh map: the file's map replaces the default.
		var m map[string][]string
		if err := json.Unmarshal(raw, &m); err != nil {
			return invalid(k.name, "want an object of host -> list of URL strings: %s", jsonReason(err))
		}
		*p = m
		return nil
	case *Duration:
		var d Duration
		if err := d.UnmarshalJSON(raw); err != nil {
			return invalid(k.name, "%v", err)
		}
		*p = d
		return nil
	default:
		if err := json.Unmarshal(raw, p); err != nil {
			return invalid(k.name, "%s", jsonReason(err))
		}
		return nil
	}
}

// jsonReason turns encoding/json's type errors into words about the value,
// without the Go type names an operator has no use for.
func jsonReason(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("wrong type: got a JSON %s, want %s", te.Value, jsonKind(te.Type.Kind().String()))
	}
	return err.Error()
}

func jsonKind(goKind string) string {
	switch goKind {
	case "bool":
		return "boolean"
	case "string":
		return "string"
	case "map":
		return "object"
	case "slice":
		return "array"
	}
	return goKind
}

// setString sets the key's field from a command-line value.
func (k key) setString(c *Config, s string) error {
	switch p := k.field(c).(type) {
	case *bool:
		v, err := strconv.ParseBool(s)
		if err != nil {
			return invalid(k.name, "want true or false, got %q", s)
		}
		*p = v
	case *string:
		*p = s
	case *LogLevel:
		*p = LogLevel(s)
	case *Duration:
		v, err := parseDuration(s)
		if err != nil {
			return invalid(k.name, "%v", err)
		}
		*p = v
	case *map[string][]string:
		host, list, ok := strings.Cut(s, "=")
		if !ok || host == "" || list == "" {
			return invalid(k.name, "want host=url[,url...], got %q", s)
		}
		if *p == nil {
			*p = map[string][]string{}
		}
		(*p)[host] = strings.Split(list, ",")
	default:
		panic(fmt.Sprintf("config: key %q has an unsupported field type %T", k.name, p))
	}
	return nil
}

// isBool reports whether the key is a boolean (a flag that may be given
// without a value).
func (k key) isBool() bool {
	_, ok := k.field(&Config{}).(*bool)
	return ok
}

// defaultString renders the key's default for help texts.
func (k key) defaultString() string {
	switch p := k.field(Default()).(type) {
	case *bool:
		return strconv.FormatBool(*p)
	case *string:
		return *p
	case *LogLevel:
		return string(*p)
	case *Duration:
		return p.String()
	case *map[string][]string:
		var parts []string
		for _, h := range slices.Sorted(maps.Keys(*p)) {
			parts = append(parts, h+"="+strings.Join((*p)[h], ","))
		}
		return strings.Join(parts, " ")
	}
	return ""
}
