package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"github.com/logbook-cri/logbook/cmd/logbookd/internal/daemon"
	"github.com/logbook-cri/logbook/config"
	"github.com/logbook-cri/logbook/criserver"
)

// version is set by the build: go build -ldflags "-X main.version=...".
var version string

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is logbookd: flags, configuration, logger and signals around
// daemon.Run. Exit codes: 0 after a clean shutdown, 1 when the daemon cannot
// start or fails, 2 for a bad command line.
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("logbookd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: logbookd [--config FILE] [--<key> VALUE ...]\n\n"+
			"logbookd serves the Kubernetes CRI v1 on a unix socket. Every key of the\n"+
			"config file is also a flag of the same name; flags override the file.\n\n")
		fs.PrintDefaults()
	}
	flags := config.NewFlags(fs)
	showVersion := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "logbookd: unexpected arguments %q\n", fs.Args())
		return 2
	}
	buildVersion := criserver.BuildVersion(version)
	if *showVersion {
		fmt.Fprintf(stdout, "logbookd %s (CRI %s)\n", buildVersion, criserver.RuntimeAPIVersion)
		return 0
	}

	cfg, err := flags.Load(exec.LookPath)
	if err != nil {
		fmt.Fprintf(stderr, "logbookd: %v\n", err)
		return 1
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel.Slog()}))

	// The first SIGTERM or SIGINT starts a graceful shutdown; once it has,
	// the signals get their default action back, so a second one ends the
	// process at once.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	context.AfterFunc(ctx, stop)

	if err := daemon.Run(ctx, daemon.Options{Config: cfg, Logger: logger, Version: buildVersion}); err != nil {
		logger.Error("logbookd stopped", "error", err)
		return 1
	}
	logger.Info("logbookd stopped")
	return 0
}
