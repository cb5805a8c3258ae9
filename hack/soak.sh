#!/bin/bash
# make soak: hack/soak against a throwaway logbookd of bin/: 1,000 pods
# created and removed in waves with 4 workers while 10 event subscribers
# listen (one stalled until the end); it prints the daemon's RSS,
# goroutines and descriptors before and after (growth bounded), the
# shims' RSS, the journal's size after a compaction, and event loss
# (must be zero). SOAK_FLAGS adds flags (e.g. -pods 200). The output is in
# _out/soak, with the daemon's heap profiles after the warm-up and after
# the waves (go tool pprof -base _out/soak/heap-before.pb.gz
# bin/logbookd _out/soak/heap-after.pb.gz).
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:$PATH
mkdir -p _out/soak
if ! bin/testimages build >_out/soak/testimages-build.log 2>&1; then
	tail -20 _out/soak/testimages-build.log
	echo "soak: the test images do not build (log: _out/soak/testimages-build.log)"
	exit 1
fi
go build -o bin/soak ./hack/soak || exit 1
# shellcheck disable=SC2086
bin/soak -bin bin -profiles _out/soak ${SOAK_FLAGS:-} 2>&1 | tee _out/soak/soak.log
exit "${PIPESTATUS[0]}"
