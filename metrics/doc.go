// Package metrics holds logbookd's Prometheus collectors and its /metrics
// endpoint.
//
// Everything is registered on a registry the daemon creates (NewRegistry)
// and passes around explicitly; the client library's global default
// registry is never touched, so two daemons, or a daemon and its tests, in
// one process never see each other's series, and nothing registers itself
// from an init function.
//
// There are two kinds of collectors. Event-driven ones are fed as things
// happen: CRI counts and times every gRPC call (the criserver interceptors
// call ObserveRequest, so the handlers carry no metrics code); Journal
// implements journal.Metrics, observing each durable group commit (latency
// and batch size) and each compaction; Image implements image.Metrics,
// observing the bytes of pulls as they arrive (a pull's progress), each
// unpacked layer, each pull's outcome and each garbage collection.
// Scrape-time ones read state when Prometheus asks: RegisterJournalStats
// takes anything with a cheap Stats() journal.Stats and turns it into
// gauges. Subscriber lag is folded
// into a count, a maximum and a sum (summarize, a pure function), never a
// label per subscriber: event streams come and go, and a label per stream
// would leave a trail of dead series.
//
// Lifecycle's journal-derived series are computed by Follow, a journal
// subscriber of the daemon's own that folds every record into a private
// projection (as an event stream does), so they count every transition
// whoever caused it: a CRI call, the exit monitor, recovery. Their
// counters start at zero with each daemon; the journal keeps the history.
//
// Series:
//
//	logbook_cri_requests_total{method,code}              counter
//	logbook_cri_request_duration_seconds{method,code}    histogram
//	logbook_journal_append_duration_seconds              histogram, per group commit
//	logbook_journal_append_batch_events                  histogram, events per group commit
//	logbook_journal_compactions_total                    counter
//	logbook_journal_compacted_events_total               counter
//	logbook_journal_size_bytes                           gauge (scrape time)
//	logbook_journal_first_sequence, _last_sequence       gauge (scrape time)
//	logbook_journal_retained_events, _snapshots          gauge (scrape time)
//	logbook_journal_subscribers                          gauge (scrape time)
//	logbook_journal_subscriber_max_lag_events            gauge (scrape time)
//	logbook_journal_subscriber_lag_events                gauge (scrape time), summed
//	logbook_image_pull_bytes_total                       counter, compressed bytes as they arrive
//	logbook_image_pulls_total{outcome}                   counter
//	logbook_image_pull_duration_seconds{outcome}         histogram
//	logbook_image_unpacked_bytes_total                   counter
//	logbook_image_layer_unpack_duration_seconds          histogram, per layer
//	logbook_image_gc_duration_seconds                    histogram, per collection
//	logbook_image_gc_removed_blobs_total, _snapshots_total  counter
//	logbook_lifecycle_transitions_total{type}             counter, journaled events by type
//	logbook_sandbox_start_duration_seconds               histogram, sandbox.creating -> sandbox.ready
//	logbook_container_start_duration_seconds             histogram, container.creating -> container.started
//	logbook_sandbox_stop_duration_seconds                histogram, successful StopPodSandbox calls
//	logbook_container_stop_duration_seconds              histogram, successful StopContainer calls
//	logbook_container_exits_total{reason}                counter (Completed, Error, OOMKilled, ...)
//	logbook_container_oom_kills_total                    counter, from container.oom records
//	logbook_exec_sync_output_truncated_total{stream}     counter
//	logbook_event_stream_subscribers                     gauge, open GetContainerEvents streams
//	logbook_event_stream_messages_total                  counter
//	logbook_event_stream_delivery_seconds                histogram, record append -> handed to a stream
//	logbook_event_stream_messages_per_subscriber         histogram, observed when a stream ends
//
// plus the Go runtime (go_*) and process (process_*) collectors.
//
// Server serves a registry over HTTP. Serve listens before it returns (a
// busy port is a startup error, not a log line), runs one goroutine, and
// Close stops it and waits for that goroutine, bounded by a context.
package metrics
