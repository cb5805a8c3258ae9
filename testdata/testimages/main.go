package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
)

const (
	modulePath   = "github.com/logbook-cri/logbook"
	defaultCache = "/var/cache/logbook/testdata"
	cacheEnv     = "LOGBOOK_TESTDATA_CACHE"
	mirrorEnv    = "LOGBOOK_DEBIAN_MIRROR"
)

const usageText = `usage: testimages <command> [flags]

commands:
  fetch  [--cache DIR]                       download the pinned inputs the cache lacks
  build  [--cache DIR] [--out DIR] [--bench] [--offline]
                                             build every test image into an OCI layout
  serve  [--layout DIR] [--addr 127.0.0.1:0] [--addr-file FILE]
                                             serve the layout from a loopback registry until SIGTERM
  list   [--layout DIR] [-l]                 print every reference the layout holds

The cache is --cache, else $LOGBOOK_TESTDATA_CACHE, else /var/cache/logbook/testdata;
the layout defaults to <cache>/layout.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "testimages:", err)
		if errors.Is(err, ErrUsage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// run executes one command; ctx ends on SIGINT/SIGTERM.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usageText)
		return fmt.Errorf("%w: no command", ErrUsage)
	}
	cmd, args := args[0], args[1:]
	fs := flag.NewFlagSet("testimages "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	cache := fs.String("cache", "", "cache directory (default $"+cacheEnv+" or "+defaultCache+")")
	verbose := fs.Bool("v", false, "log debug messages (every registry request when serving)")
	newLogger := func() *slog.Logger {
		level := slog.LevelInfo
		if *verbose {
			level = slog.LevelDebug
		}
		return slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	}
	cacheDir := func() string {
		switch {
		case *cache != "":
			return *cache
		case os.Getenv(cacheEnv) != "":
			return os.Getenv(cacheEnv)
		}
		return defaultCache
	}

	switch cmd {
	case "fetch":
		repo := fs.String("repo", "", "logbook source tree (default: found above the working directory)")
		if err := parse(fs, args); err != nil {
			return err
		}
		root, err := findRepo(*repo)
		if err != nil {
			return err
		}
		return fetch(ctx, newLogger(), root, cacheDir())

	case "build":
		repo := fs.String("repo", "", "logbook source tree (default: found above the working directory)")
		out := fs.String("out", "", "OCI layout to write (default <cache>/layout)")
		bench := fs.Bool("bench", false, "also build logbook.test/bench/big:100m for the pull benchmark")
		offline := fs.Bool("offline", false, "never download: fail if an input is missing from the cache")
		if err := parse(fs, args); err != nil {
			return err
		}
		root, err := findRepo(*repo)
		if err != nil {
			return err
		}
		opts := buildOptions{Repo: root, Cache: cacheDir(), Out: *out, Bench: *bench,
			Offline: *offline, Mirror: os.Getenv(mirrorEnv)}
		if opts.Out == "" {
			opts.Out = filepath.Join(opts.Cache, "layout")
		}
		built, err := build(ctx, newLogger(), opts)
		if err != nil {
			return err
		}
		return printBuilt(stdout, built)

	case "serve":
		layoutDir := fs.String("layout", "", "OCI layout to serve (default <cache>/layout)")
		addr := fs.String("addr", "127.0.0.1:0", "loopback address to listen on")
		addrFile := fs.String("addr-file", "", "file to write the bound host:port to once ready")
		if err := parse(fs, args); err != nil {
			return err
		}
		if *layoutDir == "" {
			*layoutDir = filepath.Join(cacheDir(), "layout")
		}
		return serve(ctx, newLogger(), *layoutDir, *addr, *addrFile, stdout)

	case "list":
		layoutDir := fs.String("layout", "", "OCI layout to read (default <cache>/layout)")
		long := fs.Bool("l", false, "also print each manifest digest")
		if err := parse(fs, args); err != nil {
			return err
		}
		if *layoutDir == "" {
			*layoutDir = filepath.Join(cacheDir(), "layout")
		}
		entries, err := readIndex(*layoutDir)
		if err != nil {
			return err
		}
		w := bufio.NewWriter(stdout)
		for _, e := range entries {
			if *long {
				fmt.Fprintf(w, "%s\t%s\n", e.Ref, e.Digest)
			} else {
				fmt.Fprintln(w, e.Ref)
			}
		}
		return w.Flush()

	case "help", "-h", "--help":
		fmt.Fprint(stdout, usageText)
		return nil
	}
	fmt.Fprint(stderr, usageText)
	return fmt.Errorf("%w: unknown command %q", ErrUsage, cmd)
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", ErrUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", ErrUsage, fs.Arg(0))
	}
	return nil
}

// fetch downloads every pinned input the catalogue needs that the cache
// lacks, so that later builds can run with no network.
func fetch(ctx context.Context, log *slog.Logger, repo, cache string) error {
	unlock, err := lockCache(cache)
	if err != nil {
		return err
	}
	defer unlock()
	f, err := os.Open(filepath.Join(repo, "testdata", "images", "inputs.lock"))
	if err != nil {
		return err
	}
	defer f.Close()
	pinned, err := parseLock(f)
	if err != nil {
		return err
	}
	store := &inputStore{dir: filepath.Join(cache, "downloads"), mirror: os.Getenv(mirrorEnv),
		client: newHTTPClient(), log: log}
	paths, err := fetchAll(ctx, store, pinned, inputsFor(catalog(true)))
	if err != nil {
		return err
	}
	log.Info("inputs cached", "dir", store.dir, "files", len(paths))
	return nil
}

// serve runs the loopback registry until ctx ends.
func serve(ctx context.Context, log *slog.Logger, layoutDir, addr, addrFile string, stdout io.Writer) error {
	s, err := startServer(ctx, log, layoutDir, addr)
	if err != nil {
		return err
	}
	if addrFile != "" {
		if err := writeFileAtomically(addrFile, []byte(s.Addr)); err != nil {
			_ = s.Close()
			return err
		}
	}
	mirrors := map[string][]string{}
	for _, h := range mirroredHosts() {
		mirrors[h] = []string{"http://" + s.Addr}
	}
	snippet, _ := json.Marshal(map[string]any{"registry-mirrors": mirrors})
	fmt.Fprintf(stdout, "%s\n", snippet)
	<-ctx.Done()
	log.Info("stopping registry")
	return s.Close()
}

// printBuilt prints one line per reference: the reference, the image ID
// (config digest) a runtime reports for it, and the image's size.
func printBuilt(w io.Writer, built []builtImage) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REFERENCE\tIMAGE ID\tMANIFEST\tSIZE")
	for _, b := range built {
		for _, ref := range b.Recipe.Refs {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", ref, b.ConfigID.Hex[:12], b.Manifest.Hex[:12], humanSize(b.Size))
		}
	}
	return tw.Flush()
}

func humanSize(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1fMiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1fKiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%dB", n)
}

// findRepo returns the logbook source tree: dir if given, else the first
// directory at or above the working directory whose go.mod declares the
// logbook module.
func findRepo(dir string) (string, error) {
	if dir != "" {
		if !isLogbookRoot(dir) {
			return "", fmt.Errorf("%w: %s has no go.mod of %s", ErrNoRepo, dir, modulePath)
		}
		return filepath.Abs(dir)
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		if isLogbookRoot(d) {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("%w: no go.mod of %s above %s; pass --repo", ErrNoRepo, modulePath, wd)
		}
	}
}

func isLogbookRoot(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return false
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) == 2 && f[0] == "module" {
			return f[1] == modulePath
		}
	}
	return false
}
