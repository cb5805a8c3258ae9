package criserver

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// OCIRuntime describes the OCI runtime binary as its --version reports it.
type OCIRuntime struct {
	Path    string `json:"path"`
	Name    string `json:"name"`              // "runc", "crun"
	Version string `json:"version"`           // "1.1.5"
	Commit  string `json:"commit,omitempty"`  // the build's commit, when printed
	Spec    string `json:"spec,omitempty"`    // the OCI runtime-spec version it implements
	Details string `json:"details,omitempty"` // the remaining lines (go, libseccomp, ...)
}

// RuncProbe is the default RuntimeProbe: it runs `<Path> --version`. It
// works for runc and for runtimes that print the same format (crun).
type RuncProbe struct {
	Path string
	// Timeout bounds one run; zero means 5 s. A runtime that cannot print
	// its version in that time is not ready.
	Timeout time.Duration
}

// Probe runs the binary and parses its answer.
func (p RuncProbe) Probe(ctx context.Context) (OCIRuntime, error) {
	timeout := p.Timeout
	if timeout == 0 {
		timeout = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, p.Path, "--version")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return OCIRuntime{Path: p.Path}, fmt.Errorf("%s --version: %w: %s", p.Path, err, strings.TrimSpace(stderr.String()))
	}
	r, err := parseRuntimeVersion(stdout.String())
	r.Path = p.Path
	if err != nil {
		return r, fmt.Errorf("%s --version: %w", p.Path, err)
	}
	return r, nil
}

// parseRuntimeVersion reads runc's --version output:
//
//	runc version 1.1.5
//	commit: v1.1.5-0-gf19387a
//	spec: 1.0.2-dev
//	go: go1.19.8
//	libseccomp: 2.5.4
func parseRuntimeVersion(out string) (OCIRuntime, error) {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	name, version, ok := strings.Cut(strings.TrimSpace(lines[0]), " version ")
	if !ok || name == "" || strings.TrimSpace(version) == "" || strings.ContainsRune(name, ' ') {
		return OCIRuntime{}, fmt.Errorf("unexpected output %q: want \"<name> version <version>\" first", lines[0])
	}
	r := OCIRuntime{Name: name, Version: strings.TrimSpace(version)}
	var details []string
	for _, line := range lines[1:] {
		line = strings.TrimSpace(line)
		k, v, _ := strings.Cut(line, ":")
		switch strings.TrimSpace(k) {
		case "commit":
			r.Commit = strings.TrimSpace(v)
		case "spec":
			r.Spec = strings.TrimSpace(v)
		case "":
		default:
			details = append(details, line)
		}
	}
	r.Details = strings.Join(details, "; ")
	return r, nil
}
