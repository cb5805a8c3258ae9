#!/bin/bash
# make bench: Go benchmarks and end-to-end load drivers. Every figure is
# printed as measured on this machine, and, where a baseline exists, as a
# ratio to that baseline measured in the same run (e.g. a bare runc run of
# the same bundle). Budgets (docs/architecture.md, brief) are reported, never
# asserted: performance is not a test verdict.
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:$PATH
mkdir -p _out/bench
status=0
section() { echo; echo "== $*"; }
gobench() { # package, regex, extra flags...
	local pkg=$1 re=$2
	shift 2
	go test -run '^$' -bench "$re" -benchmem "$@" "$pkg" 2>&1 | tee -a _out/bench/go-bench.log | grep -E '^(Benchmark|ok|FAIL|PASS)' || status=1
}
: >_out/bench/go-bench.log

section "journal: durable append (group commit), tail fan-out, replay of 1M events"
echo "budgets: >= 20,000 durable events/s with 32 appenders; replay of 1,000,000 events < 2 s"
gobench ./journal/ 'BenchmarkAppend|BenchmarkTailFanout|BenchmarkReplay' -benchtime 2s

section "projector: lists of 1,000 objects, fold throughput, 1M events folded in order (Fold1M) and loaded as a restart does, decoding in parallel (Load1M)"
echo "budget: ListContainers / ListPodSandbox with 1,000 objects < 2 ms"
gobench ./projector/ 'BenchmarkList|BenchmarkApply$|BenchmarkFold1M|BenchmarkLoad1M|BenchmarkLoadJournal1M'
echo "-- the same over a real unix socket with the daemon's interceptors, client decoding included"
gobench ./criserver/ 'BenchmarkListContainers1000|BenchmarkContainerStatus' -benchtime 1000x -count 3

# Each capability adds its own section as a script in hack/bench.d/ (run in
# name order, from the repository root), so that none edits another's.
for extra in hack/bench.d/*.sh; do
	[ -e "$extra" ] || continue
	section "$(basename "$extra" .sh)"
	bash "$extra" || status=1
done
exit $status
