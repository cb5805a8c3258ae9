package main

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestDependencies keeps the shim small: every package it links is either
// the standard library minus a few heavy ones, golang.org/x/sys, or this
// module's shim code.
func TestDependencies(t *testing.T) {
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	out, err := exec.Command(goBin, "list", "-deps", "-f", "{{.Standard}} {{.ImportPath}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	allowed := map[string]bool{
		"golang.org/x/sys/unix":                           true,
		"github.com/logbook-cri/logbook/runtime/shim":     true,
		"github.com/logbook-cri/logbook/cmd/logbook-shim": true,
	}
	heavy := map[string]bool{"log/slog": true, "encoding/json": true, "net/http": true, "os/user": true}
	var n int
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		std, pkg, _ := strings.Cut(line, " ")
		n++
		if std == "true" && heavy[pkg] || std == "false" && !allowed[pkg] {
			t.Errorf("the shim links %s", pkg)
		}
	}
	if n < 10 {
		t.Fatalf("go list listed only %d packages: %s", n, out)
	}
}
