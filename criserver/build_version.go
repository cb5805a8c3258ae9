package criserver

import (
	"runtime/debug"
	"strings"
)

// BuildVersion is logbook's own version, the RuntimeVersion of the Version
// RPC: linked when the build set one (`-ldflags -X main.version=...`, as the
// Makefile does), else what the Go toolchain recorded in the binary (the
// module version, or the VCS revision), else "devel".
func BuildVersion(linked string) string {
	info, ok := debug.ReadBuildInfo()
	return buildVersion(linked, info, ok)
}

func buildVersion(linked string, info *debug.BuildInfo, ok bool) string {
	if v := strings.TrimSpace(linked); v != "" {
		return v
	}
	if !ok || info == nil {
		return "devel"
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev string
	dirty := false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return "devel"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		rev += "-dirty"
	}
	return "devel-" + rev
}
