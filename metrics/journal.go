package metrics

import (
	"time"

	"github.com/logbook-cri/logbook/journal"
	"github.com/prometheus/client_golang/prometheus"
)

// Journal receives the journal's measurements as they happen: the latency
// and size of each durable group commit, and the events compaction drops.
type Journal struct {
	commitDuration prometheus.Histogram
	batchSize      prometheus.Histogram
	compactions    prometheus.Counter
	compacted      prometheus.Counter
}

var _ journal.Metrics = (*Journal)(nil)

// NewJournal creates the journal collectors and registers them on reg.
func NewJournal(reg prometheus.Registerer) (*Journal, error) {
	m := &Journal{
		commitDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: Namespace, Subsystem: "journal", Name: "append_duration_seconds",
			Help: "Duration of each durable group commit (one fsync'd transaction).",
			// 100µs to ~1.6s: an fsync is a millisecond or two on a good disk.
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 15),
		}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: Namespace, Subsystem: "journal", Name: "append_batch_events",
			Help:    "Events per durable group commit; the sum is the number of events appended.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 12), // 1 to 2048
		}),
		compactions: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "journal", Name: "compactions_total",
			Help: "Compaction runs.",
		}),
		compacted: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "journal", Name: "compacted_events_total",
			Help: "Events dropped by compaction (their state lives on in a snapshot).",
		}),
	}
	for _, c := range []prometheus.Collector{m.commitDuration, m.batchSize, m.compactions, m.compacted} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Committed records one durable group commit of events records.
func (m *Journal) Committed(events int, took time.Duration) {
	m.commitDuration.Observe(took.Seconds())
	m.batchSize.Observe(float64(events))
}

// Compacted records one compaction run that dropped dropped events.
func (m *Journal) Compacted(dropped int) {
	m.compactions.Inc()
	m.compacted.Add(float64(dropped))
}
