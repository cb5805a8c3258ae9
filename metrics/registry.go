package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Namespace prefixes every logbook series.
const Namespace = "logbook"

// NewRegistry returns a registry of the daemon's own, never the global
// default one, holding the Go runtime and process collectors (heap, GC,
// goroutines, RSS, open fds): the daemon's memory budget is checked on them.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return reg
}
