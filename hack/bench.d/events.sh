#!/bin/bash
# Lifecycle events: event delivery latency, container exit -> subscriber,
# with pods churning and 10 subscribers, one of them stalled (subscribed,
# never reading), and the appenders' throughput in the same run, with and
# without the stalled subscriber. Two measurements:
#
#  1. projector/eventstream BenchmarkDelivery: the journal and the
#     subscriptions alone, with synthetic lifecycle records (100 pods, each
#     a goroutine journaling a pod's whole life, one durable append per
#     transition) on a real journal on this disk; the latency runs from the
#     append call of the exit to the subscriber's Next returning its
#     STOPPED event, fsync'd group commit included (append-p50/p99 show
#     that part alone). pace=40ms stands for the side effects between two
#     transitions of a pod; pace=0s appends back to back (disk-bound).
#  2. hack/eventbench: a real logbookd, real runc containers (busybox
#     containers in host-network pods, exiting after 1s), GetContainerEvents clients over the
#     socket, each on its own connection; the latency runs from the exit
#     the shim recorded (finished_at) to the client's receipt, split into
#     exit -> journal (exit monitor, OOM check, durable append) and
#     journal -> subscriber (fan-out). Pod counts: $EVENT_BENCH_PODS.
#
# Budget (brief): p99 < 20 ms with 100 pods churning and 10 subscribers,
# one stalled; the stalled one costs the others nothing measurable.
# Reported, never asserted.
set -uo pipefail
mkdir -p _out/bench
log=_out/bench/events.log
: >"$log"
status=0
echo "budget: delivery p99 < 20 ms with 100 pods churning and 10 subscribers, one stalled; stalled=yes vs stalled=no throughput"

echo "-- journal + subscriptions, synthetic records (BenchmarkDelivery)"
go test -run '^$' -bench 'BenchmarkDelivery' -benchtime "${EVENT_BENCH_LIVES:-2000}x" -count "${EVENT_BENCH_COUNT:-1}" ./projector/eventstream/ 2>&1 |
	tee -a "$log" | grep -E '^(Benchmark|ok|FAIL|PASS)' || status=1

echo "-- what one subscriber costs per record: read, decode, private fold, CRI messages (BenchmarkNext)"
go test -run '^$' -bench 'BenchmarkNext' -benchtime 5x ./projector/eventstream/ 2>&1 |
	tee -a "$log" | grep -E '^(Benchmark|FAIL)' || status=1

echo "-- real logbookd, runc containers, clients over the socket (hack/eventbench)"
if [ ! -x bin/logbookd ] || [ ! -x bin/logbook-shim ] || [ ! -x bin/testimages ]; then
	echo "skipped: bin/logbookd, bin/logbook-shim and bin/testimages are needed (make build tools)"
else
	go build -o _out/bench/eventbench ./hack/eventbench || exit 1
	for pods in ${EVENT_BENCH_PODS:-1 10 100}; do
		_out/bench/eventbench -pods "$pods" -duration "${EVENT_BENCH_DURATION:-15s}" 2>&1 | tee -a "$log" | grep -v '^eventbench: pod life' || status=1
	done
fi
exit $status
