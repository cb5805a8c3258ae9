package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
)

// busyboxRecipe names the version of the recipe below: bump it when the
// steps change in a way the other key parts do not capture.
const busyboxRecipe = "logbook busybox recipe v1"

// busyboxTag is the build tag shown in busybox's banner.
const busyboxTag = "Debian 1.35.0-4+deb12u1 logbook-testdata"

// kconfigSetting is one line of a busybox .config: Value "" means
// "# CONFIG_X is not set".
type kconfigSetting struct {
	Key   string
	Value string
}

// busyboxSettings is what the test images need on top of `make defconfig`.
func busyboxSettings() []kconfigSetting {
	return []kconfigSetting{
		// Runs in an empty image.
		{"CONFIG_STATIC", "y"},
		// tc does not build against recent kernel headers.
		{"CONFIG_TC", ""},
		// `sh -c ls` must exec /bin/ls from the file system (masking
		// /bin/ls must make it fail), never run the applet in-process.
		{"CONFIG_FEATURE_SH_STANDALONE", ""},
		{"CONFIG_FEATURE_PREFER_APPLETS", ""},
		// Debian's test-only knob; keep it off like upstream.
		{"CONFIG_FEATURE_DI_ENV_HACK", ""},
		// The applets critest needs that Debian's own builds lack.
		{"CONFIG_IPCS", "y"},
		{"CONFIG_PGREP", "y"},
	}
}

// requiredApplets are the commands the conformance suite and the images run
// (critest-notes section 2.1, plus httpd and wget for the images here).
func requiredApplets() []string {
	return []string{
		"sh", "top", "echo", "sleep", "pgrep", "ls", "cat", "mkdir", "mount", "dd",
		"touch", "grep", "seq", "sync", "hostname", "id", "pidof", "ipcs", "netstat",
		"brctl", "ping", "chmod", "httpd", "wget", "adduser", "addgroup",
	}
}

// editKconfig sets each setting in a .config text: an existing line for the
// key is replaced, a missing one is appended.
func editKconfig(text string, settings []kconfigSetting) string {
	want := map[string]string{}
	for _, s := range settings {
		want[s.Key] = s.Value
	}
	line := func(k string) string {
		if v := want[k]; v != "" {
			return k + "=" + v
		}
		return "# " + k + " is not set"
	}
	var out []string
	done := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		if k, _, ok := kconfigLine(l); ok {
			if _, set := want[k]; set {
				if !done[k] {
					out = append(out, line(k))
				}
				done[k] = true
				continue
			}
		}
		out = append(out, l)
	}
	for _, s := range settings {
		if !done[s.Key] {
			out = append(out, line(s.Key))
			done[s.Key] = true
		}
	}
	return strings.Join(out, "\n") + "\n"
}

// kconfigLine parses "CONFIG_X=v" and "# CONFIG_X is not set" (value "").
func kconfigLine(l string) (key, value string, ok bool) {
	if strings.HasPrefix(l, "# CONFIG_") && strings.HasSuffix(l, " is not set") {
		return strings.TrimSuffix(strings.TrimPrefix(l, "# "), " is not set"), "", true
	}
	if k, v, found := strings.Cut(l, "="); found && strings.HasPrefix(k, "CONFIG_") {
		return k, v, true
	}
	return "", "", false
}

// checkKconfig verifies that a final .config has every setting.
func checkKconfig(text string, settings []kconfigSetting) error {
	have := map[string]string{}
	for _, l := range strings.Split(text, "\n") {
		if k, v, ok := kconfigLine(l); ok {
			have[k] = v
		}
	}
	for _, s := range settings {
		if v := have[s.Key]; v != s.Value {
			return fmt.Errorf("%w: %s is %q, want %q", ErrBusyboxConfig, s.Key, v, s.Value)
		}
	}
	return nil
}

// checkApplets verifies the built binary offers every required applet.
func checkApplets(have []string) error {
	set := map[string]bool{}
	for _, a := range have {
		set[a] = true
	}
	var missing []string
	for _, a := range requiredApplets() {
		if !set[a] {
			missing = append(missing, a)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: applets missing: %s", ErrBusyboxConfig, strings.Join(missing, " "))
	}
	return nil
}

// busyboxKey is the cache key of a busybox build: everything that can change
// the binary (the pinned sources, the settings, the recipe, the compiler and
// the C library it links statically).
func busyboxKey(orig, debian input, toolchain string) string {
	h := sha256.New()
	fmt.Fprintln(h, busyboxRecipe)
	fmt.Fprintln(h, orig.SHA256, debian.SHA256)
	for _, s := range busyboxSettings() {
		fmt.Fprintf(h, "%s=%s\n", s.Key, s.Value)
	}
	fmt.Fprintln(h, busyboxTag)
	fmt.Fprintln(h, toolchain)
	return hex.EncodeToString(h.Sum(nil))[:20]
}

// busybox is a built static busybox and the applets it offers.
type busybox struct {
	Binary  []byte
	Applets []string // sorted, without "busybox" itself
	Config  string   // the final .config
	Dir     string   // cache directory it was loaded from
}

// busyboxBuilder builds busybox from Debian's source package, once per key.
type busyboxBuilder struct {
	dir   string // <cache>/busybox
	epoch int64  // SOURCE_DATE_EPOCH
	log   *slog.Logger
}

// ensure returns the cached build for the inputs, building it first if the
// cache has none. The build runs in a fixed directory so that no path of the
// machine's choosing ends up in the binary.
func (b *busyboxBuilder) ensure(ctx context.Context, origPath, debianPath string, orig, debian input) (*busybox, error) {
	toolchain, err := toolchainID(ctx)
	if err != nil {
		return nil, err
	}
	key := busyboxKey(orig, debian, toolchain)
	out := filepath.Join(b.dir, key)
	if bb, err := loadBusybox(out); err == nil {
		b.log.Debug("busybox from cache", "dir", out)
		return bb, nil
	}
	b.log.Info("building busybox (about a minute)", "key", key)
	if err := b.build(ctx, origPath, debianPath, out); err != nil {
		return nil, err
	}
	return loadBusybox(out)
}

func (b *busyboxBuilder) build(ctx context.Context, origPath, debianPath, out string) error {
	work := filepath.Join(b.dir, "build")
	if err := os.RemoveAll(work); err != nil {
		return err
	}
	if err := os.MkdirAll(work, 0o755); err != nil {
		return err
	}
	defer os.RemoveAll(work)

	var logBuf bytes.Buffer
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + work,
		"LC_ALL=C",
		"TZ=UTC",
		"SOURCE_DATE_EPOCH=" + strconv.FormatInt(b.epoch, 10),
		"KCONFIG_NOTIMESTAMP=1",
	}
	run := func(dir string, stdin string, name string, args ...string) error {
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.Dir, cmd.Env = dir, env
		cmd.Stdout, cmd.Stderr = &logBuf, &logBuf
		if stdin != "" {
			cmd.Stdin = strings.NewReader(stdin)
		}
		fmt.Fprintf(&logBuf, "+ %s %s\n", name, strings.Join(args, " "))
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("busybox build: %s %s: %w\n%s", name, strings.Join(args, " "), err, tail(logBuf.String(), 40))
		}
		return nil
	}

	if err := run(work, "", "tar", "-xf", origPath); err != nil {
		return err
	}
	src := filepath.Join(work, "busybox-1.35.0")
	if err := run(src, "", "tar", "-xf", debianPath); err != nil {
		return err
	}
	series, err := os.ReadFile(filepath.Join(src, "debian", "patches", "series"))
	if err != nil {
		return err
	}
	for _, p := range patchSeries(string(series)) {
		if err := run(src, "", "patch", "-p1", "-s", "-N", "--no-backup-if-mismatch", "-i", filepath.Join("debian", "patches", p)); err != nil {
			return err
		}
	}
	if err := run(src, "", "make", "-s", "defconfig"); err != nil {
		return err
	}
	cfgPath := filepath.Join(src, ".config")
	cfg, err := os.ReadFile(cfgPath)
	if err != nil {
		return err
	}
	if err := os.WriteFile(cfgPath, []byte(editKconfig(string(cfg), busyboxSettings())), 0o644); err != nil {
		return err
	}
	// oldconfig asks about nothing new here; the newlines answer any
	// question with its default.
	if err := run(src, strings.Repeat("\n", 512), "make", "-s", "oldconfig"); err != nil {
		return err
	}
	cfg, err = os.ReadFile(cfgPath)
	if err != nil {
		return err
	}
	if err := checkKconfig(string(cfg), busyboxSettings()); err != nil {
		return err
	}
	jobs := "-j" + strconv.Itoa(runtime.NumCPU())
	if err := run(src, "", "make", "-s", jobs, "BB_EXTRA_VERSION="+busyboxTag, "busybox"); err != nil {
		return err
	}

	var list bytes.Buffer
	cmd := exec.CommandContext(ctx, filepath.Join(src, "busybox"), "--list")
	cmd.Stdout, cmd.Env = &list, env
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("busybox --list: %w", err)
	}
	applets := strings.Fields(list.String())
	if err := checkApplets(applets); err != nil {
		return err
	}

	// Publish atomically: a key directory is either complete or absent.
	tmp, err := os.MkdirTemp(b.dir, ".new-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bin, err := os.ReadFile(filepath.Join(src, "busybox"))
	if err != nil {
		return err
	}
	sort.Strings(applets)
	files := map[string][]byte{
		"busybox":     bin,
		"applets.txt": []byte(strings.Join(applets, "\n") + "\n"),
		"config":      cfg,
		"build.log":   logBuf.Bytes(),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(tmp, name), data, 0o644); err != nil {
			return err
		}
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	if err := os.RemoveAll(out); err != nil {
		return err
	}
	return os.Rename(tmp, out)
}

// loadBusybox reads a finished build from its cache directory.
func loadBusybox(dir string) (*busybox, error) {
	bin, err := os.ReadFile(filepath.Join(dir, "busybox"))
	if err != nil {
		return nil, err
	}
	list, err := os.ReadFile(filepath.Join(dir, "applets.txt"))
	if err != nil {
		return nil, err
	}
	cfg, err := os.ReadFile(filepath.Join(dir, "config"))
	if err != nil {
		return nil, err
	}
	var applets []string
	for _, a := range strings.Fields(string(list)) {
		if a != "busybox" {
			applets = append(applets, a)
		}
	}
	sort.Strings(applets)
	if err := checkApplets(applets); err != nil {
		return nil, err
	}
	if err := checkKconfig(string(cfg), busyboxSettings()); err != nil {
		return nil, err
	}
	return &busybox{Binary: bin, Applets: applets, Config: string(cfg), Dir: dir}, nil
}

// patchSeries lists the patches of a quilt series file in order.
func patchSeries(series string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(series))
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		out = append(out, strings.Fields(l)[0])
	}
	return out
}

// toolchainID identifies the C compiler and C library a static build uses.
func toolchainID(ctx context.Context) (string, error) {
	cc, err := exec.CommandContext(ctx, "cc", "--version").Output()
	if err != nil {
		return "", fmt.Errorf("cc --version: %w (a C compiler is needed to build busybox and the pause)", err)
	}
	libc, err := exec.CommandContext(ctx, "getconf", "GNU_LIBC_VERSION").Output()
	if err != nil {
		return "", fmt.Errorf("getconf GNU_LIBC_VERSION: %w", err)
	}
	first, _, _ := strings.Cut(string(cc), "\n")
	return first + "; " + strings.TrimSpace(string(libc)), nil
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
