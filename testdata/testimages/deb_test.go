package main

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
)

// fakeELF encodes "interp|lib,lib" so that libraryClosure can be tested
// without real binaries.
func fakeELF(interp string, libs ...string) []byte {
	return []byte(interp + "|" + strings.Join(libs, ","))
}

func fakeDeps(data []byte) (string, []string, error) {
	interp, libs, ok := strings.Cut(string(data), "|")
	if !ok {
		return "", nil, fmt.Errorf("not a fake ELF: %q", data)
	}
	if libs == "" {
		return interp, nil, nil
	}
	return interp, strings.Split(libs, ","), nil
}

func testIndex() fsIndex {
	return fsIndex{
		"usr/sbin/nginx":                          {Kind: kindFile, Data: fakeELF("/lib64/ld.so.2", "libssl.so.3", "libz.so.1", "libc.so.6")},
		"lib64/ld.so.2":                           {Kind: kindSymlink, Target: "/lib/x86_64-linux-gnu/ld.so.2"},
		"lib/x86_64-linux-gnu/ld.so.2":            {Kind: kindFile, Data: fakeELF("")},
		"lib/x86_64-linux-gnu/libc.so.6":          {Kind: kindFile, Data: fakeELF("/lib64/ld.so.2")},
		"lib/x86_64-linux-gnu/libz.so.1":          {Kind: kindSymlink, Target: "libz.so.1.2.13"},
		"lib/x86_64-linux-gnu/libz.so.1.2.13":     {Kind: kindFile, Data: fakeELF("", "libc.so.6")},
		"usr/lib/x86_64-linux-gnu/libssl.so.3":    {Kind: kindFile, Data: fakeELF("", "libcrypto.so.3", "libc.so.6")},
		"usr/lib/x86_64-linux-gnu/libcrypto.so.3": {Kind: kindFile, Data: fakeELF("", "libc.so.6")},
		// Shadowed by the lib/ copy, which comes first in the search path.
		"usr/lib/x86_64-linux-gnu/libc.so.6": {Kind: kindFile, Data: fakeELF("")},
		"usr/lib/x86_64-linux-gnu/unused.so": {Kind: kindFile, Data: fakeELF("")},
		"loop/a":                             {Kind: kindSymlink, Target: "b"},
		"loop/b":                             {Kind: kindSymlink, Target: "../loop/a"},
	}
}

func TestResolve(t *testing.T) {
	ix := testIndex()
	tests := []struct {
		path string
		want []string
		err  error
	}{
		{"usr/sbin/nginx", []string{"usr/sbin/nginx"}, nil},
		{"lib64/ld.so.2", []string{"lib64/ld.so.2", "lib/x86_64-linux-gnu/ld.so.2"}, nil},
		{"lib/x86_64-linux-gnu/libz.so.1", []string{"lib/x86_64-linux-gnu/libz.so.1", "lib/x86_64-linux-gnu/libz.so.1.2.13"}, nil},
		{"absent", nil, ErrLibraryNotFound},
		{"loop/a", nil, ErrBadEntry},
	}
	for _, tt := range tests {
		got, err := ix.resolve(tt.path)
		if tt.err != nil {
			if !errors.Is(err, tt.err) {
				t.Errorf("resolve(%s): err = %v, want %v", tt.path, err, tt.err)
			}
			continue
		}
		if err != nil || strings.Join(got, " ") != strings.Join(tt.want, " ") {
			t.Errorf("resolve(%s) = %v, %v; want %v", tt.path, got, err, tt.want)
		}
	}
}

func TestLibraryClosure(t *testing.T) {
	search := []string{"lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu"}
	got, err := libraryClosure(testIndex(), []string{"usr/sbin/nginx"}, search, fakeDeps)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"lib/x86_64-linux-gnu/ld.so.2",
		"lib/x86_64-linux-gnu/libc.so.6",
		"lib/x86_64-linux-gnu/libz.so.1",
		"lib/x86_64-linux-gnu/libz.so.1.2.13",
		"lib64/ld.so.2",
		"usr/lib/x86_64-linux-gnu/libcrypto.so.3",
		"usr/lib/x86_64-linux-gnu/libssl.so.3",
		"usr/sbin/nginx",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("closure:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	ix := testIndex()
	delete(ix, "usr/lib/x86_64-linux-gnu/libcrypto.so.3")
	if _, err := libraryClosure(ix, []string{"usr/sbin/nginx"}, search, fakeDeps); !errors.Is(err, ErrLibraryNotFound) || !strings.Contains(err.Error(), "libcrypto.so.3") {
		t.Fatalf("missing library: err = %v", err)
	}
	ix = testIndex()
	delete(ix, "lib/x86_64-linux-gnu/ld.so.2")
	if _, err := libraryClosure(ix, []string{"usr/sbin/nginx"}, search, fakeDeps); !errors.Is(err, ErrLibraryNotFound) {
		t.Fatalf("missing interpreter: err = %v", err)
	}
}

func TestReadTarInto(t *testing.T) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	write := func(h *tar.Header, data string) {
		h.Size = int64(len(data))
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(data)); err != nil {
			t.Fatal(err)
		}
	}
	write(&tar.Header{Name: "./", Typeflag: tar.TypeDir, Mode: 0o755}, "")
	write(&tar.Header{Name: "./usr/sbin/", Typeflag: tar.TypeDir, Mode: 0o755}, "")
	write(&tar.Header{Name: "./usr/sbin/nginx", Typeflag: tar.TypeReg, Mode: 0o100755}, "ELF")
	write(&tar.Header{Name: "./usr/sbin/nginx-link", Typeflag: tar.TypeLink, Linkname: "./usr/sbin/nginx"}, "")
	write(&tar.Header{Name: "./lib64/ld.so", Typeflag: tar.TypeSymlink, Linkname: "/lib/ld.so"}, "")
	write(&tar.Header{Name: "../escape", Typeflag: tar.TypeReg, Mode: 0o644}, "x")
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	ix := fsIndex{}
	if err := readTarInto(&buf, ix); err != nil {
		t.Fatal(err)
	}
	if f := ix["usr/sbin/nginx"]; f.Kind != kindFile || f.Mode != 0o755 || string(f.Data) != "ELF" {
		t.Errorf("nginx = %+v", f)
	}
	if f := ix["usr/sbin/nginx-link"]; string(f.Data) != "ELF" {
		t.Errorf("hard link = %+v", f)
	}
	if f := ix["lib64/ld.so"]; f.Kind != kindSymlink || f.Target != "/lib/ld.so" {
		t.Errorf("symlink = %+v", f)
	}
	if _, ok := ix["../escape"]; ok || len(ix) != 4 {
		t.Errorf("index = %v", ix)
	}
}

func TestReadELFDeps(t *testing.T) {
	// Any dynamic executable of the host will do: the go tool is static, cc
	// is not.
	for _, p := range []string{"/usr/bin/dpkg-deb", "/usr/bin/tar", "/bin/ls"} {
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		interp, needed, err := readELFDeps(data)
		if err != nil {
			t.Fatal(err)
		}
		if interp == "" || !strings.Contains(strings.Join(needed, " "), "libc.so.6") {
			t.Fatalf("%s: interp %q needed %v", p, interp, needed)
		}
		return
	}
	t.Skip("no dynamic executable found on the host")
}
