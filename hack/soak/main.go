package main

import (
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/logbook-cri/logbook/hack/chaos/rig"
)

type options struct {
	pods        int
	wave        int
	workers     int
	subscribers int
	retention   time.Duration
	bin, dir    string
	profiles    string
	keep        bool
}

func main() {
	var o options
	flag.IntVar(&o.pods, "pods", 1000, "pods created and removed in all")
	flag.IntVar(&o.wave, "wave", 100, "pods up at once: each wave creates this many, then removes them")
	flag.IntVar(&o.workers, "workers", 4, "concurrent workers")
	flag.IntVar(&o.subscribers, "subscribers", 10, "GetContainerEvents subscribers (one of them stalled until the end)")
	flag.DurationVar(&o.retention, "retention", 2*time.Minute, "the daemon's journal-retention: the restart at the end compacts what is older")
	flag.StringVar(&o.bin, "bin", "bin", "directory of logbookd, logbook-shim, logbook-pause, logbook and testimages")
	flag.StringVar(&o.dir, "dir", "", "run directory (default: a new one under $TMPDIR); kept when a check fails")
	flag.BoolVar(&o.keep, "keep", false, "keep the run directory even when every check passes")
	flag.StringVar(&o.profiles, "profiles", "", "directory to save the daemon's heap profiles in, after the warm-up and after the waves (go tool pprof -base before after)")
	flag.Parse()
	os.Exit(run(o))
}

func run(o options) int {
	bin, err := filepath.Abs(o.bin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		return 2
	}
	dir := o.dir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "logbook-soak-"); err != nil {
			fmt.Fprintln(os.Stderr, "soak:", err)
			return 2
		}
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	w, err := rig.New(rig.Config{Bin: bin, Dir: dir, Bridge: "lbsoak0", Subnet: "10.196.0.0/22",
		Retention: o.retention, Metrics: true, LogLevel: "info", Log: log})
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		return 2
	}
	s := &soak{o: o, w: w}
	status := s.run()
	w.Close()
	if status == 0 && !o.keep {
		os.RemoveAll(dir)
	} else {
		fmt.Printf("soak: run directory kept: %s\n", dir)
	}
	return status
}
