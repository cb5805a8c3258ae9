package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRunUsage(t *testing.T) {
	tests := []struct {
		args []string
		err  error
	}{
		{nil, ErrUsage},
		{[]string{"frobnicate"}, ErrUsage},
		{[]string{"build", "extra"}, ErrUsage},
		{[]string{"list", "--no-such-flag"}, ErrUsage},
		{[]string{"serve", "--addr", "0.0.0.0:0", "--layout", "/nonexistent"}, ErrNotLoopback},
		{[]string{"build", "--repo", "/nonexistent"}, ErrNoRepo},
	}
	for _, tt := range tests {
		var out, errOut bytes.Buffer
		err := run(context.Background(), tt.args, &out, &errOut)
		if !errors.Is(err, tt.err) {
			t.Errorf("run(%q) = %v, want %v", tt.args, err, tt.err)
		}
	}
	var out bytes.Buffer
	if err := run(context.Background(), []string{"help"}, &out, &out); err != nil || !strings.Contains(out.String(), "serve") {
		t.Errorf("help: %v %q", err, out.String())
	}
}

func TestFindRepo(t *testing.T) {
	root, err := findRepo("")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "testdata", "images", "inputs.lock")); err != nil {
		t.Fatalf("found %s, which has no inputs.lock: %v", root, err)
	}
	if got, err := findRepo(root); err != nil || got != root {
		t.Fatalf("findRepo(%s) = %s, %v", root, got, err)
	}
	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, "go.mod"), []byte("module example.com/other\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := findRepo(other); !errors.Is(err, ErrNoRepo) {
		t.Fatalf("findRepo(another module) = %v, want ErrNoRepo", err)
	}
}
