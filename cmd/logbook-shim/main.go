package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"

	"github.com/logbook-cri/logbook/runtime/shim"
)

func main() {
	// A shim's work is copying bytes; one P and a tight heap keep its
	// resident memory near the runtime's floor.
	runtime.GOMAXPROCS(1)
	debug.SetGCPercent(25)

	cfg, err := shim.ParseArgs(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "logbook-shim:", err)
		os.Exit(2)
	}
	logf, err := shim.Detach(cfg.StateDir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "logbook-shim:", err)
		os.Exit(1)
	}
	log := shim.NewTextLogger(logf, false, "id", cfg.ID)
	if err := shim.Run(cfg, log); err != nil {
		log.Error("shim failed", "err", err)
		os.Exit(1)
	}
}
