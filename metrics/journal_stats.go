package metrics

import (
	"github.com/logbook-cri/logbook/journal"
	"github.com/prometheus/client_golang/prometheus"
)

// JournalStatser is what the scrape-time journal collector reads:
// *journal.Journal implements it. Stats must be cheap (no disk scan), as it
// runs on every scrape.
type JournalStatser interface {
	Stats() journal.Stats
}

// journalSummary is what a scrape reports of one journal.Stats. Subscriber
// lag is reduced to a count, a maximum and a sum, so that a thousand
// GetContainerEvents streams cost three series, not a thousand.
type journalSummary struct {
	sizeBytes   float64
	first, last float64
	retained    float64
	snapshots   float64
	subscribers float64
	maxLag      float64
	sumLag      float64
}

// summarize computes the summary; pure, so it is table-tested.
func summarize(s journal.Stats) journalSummary {
	sum := journalSummary{
		sizeBytes:   float64(s.SizeBytes),
		first:       float64(s.First),
		last:        float64(s.Last),
		snapshots:   float64(len(s.SnapshotSeqs)),
		subscribers: float64(len(s.Cursors)),
	}
	if s.First <= s.Last {
		sum.retained = float64(s.Last - s.First + 1)
	}
	for _, next := range s.Cursors {
		// A cursor is the seq it delivers next: one past Last means it is
		// caught up. A cursor ahead of that has nothing to catch up on.
		var lag uint64
		if next <= s.Last {
			lag = s.Last + 1 - next
		}
		sum.sumLag += float64(lag)
		sum.maxLag = max(sum.maxLag, float64(lag))
	}
	return sum
}

// journalStatsCollector reads the journal's Stats at scrape time.
type journalStatsCollector struct {
	src JournalStatser

	size, first, last, retained, snapshots, subscribers, maxLag, sumLag *prometheus.Desc
}

// RegisterJournalStats registers on reg a collector that reads src at each
// scrape: journal size, retained sequence range, snapshots, subscribers and
// their lag.
func RegisterJournalStats(reg prometheus.Registerer, src JournalStatser) error {
	desc := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(Namespace, "journal", name), help, nil, nil)
	}
	return reg.Register(&journalStatsCollector{
		src:         src,
		size:        desc("size_bytes", "Size of the journal file."),
		first:       desc("first_sequence", "First retained sequence number (greater than last when the journal is empty)."),
		last:        desc("last_sequence", "Last appended sequence number."),
		retained:    desc("retained_events", "Events retained in the journal (last - first + 1)."),
		snapshots:   desc("snapshots", "Projection snapshots stored in the journal."),
		subscribers: desc("subscribers", "Open tails of the journal (event streams, followers)."),
		maxLag:      desc("subscriber_max_lag_events", "Largest number of appended events a subscriber has not read yet."),
		sumLag:      desc("subscriber_lag_events", "Appended events not read yet, summed over all subscribers."),
	})
}

func (c *journalStatsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.size, c.first, c.last, c.retained, c.snapshots, c.subscribers, c.maxLag, c.sumLag} {
		ch <- d
	}
}

func (c *journalStatsCollector) Collect(ch chan<- prometheus.Metric) {
	s := summarize(c.src.Stats())
	gauge := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v)
	}
	gauge(c.size, s.sizeBytes)
	gauge(c.first, s.first)
	gauge(c.last, s.last)
	gauge(c.retained, s.retained)
	gauge(c.snapshots, s.snapshots)
	gauge(c.subscribers, s.subscribers)
	gauge(c.maxLag, s.maxLag)
	gauge(c.sumLag, s.sumLag)
}
