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
	rounds  int
	seed    uint64
	workers int
	maxPods int
	bin     string
	dir     string
	keep    bool
}

func main() {
	var o options
	flag.IntVar(&o.rounds, "rounds", 60, "rounds of load, SIGKILL, restart and checks")
	flag.Uint64Var(&o.seed, "seed", 0, "random seed (0: from the clock); printed at the start, reproduces a run's choices")
	flag.IntVar(&o.workers, "workers", 2, "concurrent workers calling the daemon")
	flag.IntVar(&o.maxPods, "max-pods", 6, "pods alive at once, at most")
	flag.StringVar(&o.bin, "bin", "bin", "directory of logbookd, logbook-shim, logbook-pause, logbook and testimages")
	flag.StringVar(&o.dir, "dir", "", "run directory (default: a new one under $TMPDIR); kept when a violation is found")
	flag.BoolVar(&o.keep, "keep", false, "keep the run directory even when the run is clean")
	flag.Parse()
	if o.seed == 0 {
		o.seed = uint64(time.Now().UnixNano())
	}
	os.Exit(run(o))
}

func run(o options) int {
	fmt.Printf("chaos: seed %d (-seed %d reproduces the driver's choices), %d rounds, %d workers\n", o.seed, o.seed, o.rounds, o.workers)
	bin, err := filepath.Abs(o.bin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		return 2
	}
	dir := o.dir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "logbook-chaos-"); err != nil {
			fmt.Fprintln(os.Stderr, "chaos:", err)
			return 2
		}
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	w, err := rig.New(rig.Config{Bin: bin, Dir: dir, Bridge: "lbchaos0", Subnet: "10.197.0.0/22", LogLevel: "debug", Log: log})
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		return 2
	}
	d := newDriver(o, w)
	status := d.run()
	w.Close()
	if status == 0 && !o.keep {
		os.RemoveAll(dir)
	} else {
		fmt.Printf("chaos: run directory kept: %s (daemon logs logbookd-N.log, one per start)\n", dir)
	}
	return status
}
