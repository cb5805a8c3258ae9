#!/bin/bash
# Pod networking (package network): CNI ADD and DEL latency, p50/p90 in ms,
# over $CNI_PODS pods through network.Manager on a real bridge (bridge +
# host-local + portmap, the default chain), each pod in a namespace of its
# own. ADD is what networking adds to a pod's start, DEL to its stop.
set -uo pipefail
pods=${CNI_PODS:-100}
echo "CNI ADD / DEL over $pods pods (add-p50-ms add-p90-ms del-p50-ms del-p90-ms)"
mkdir -p _out/bench
go test -run '^$' -bench '^BenchmarkCNI$' -benchtime "${pods}x" -count 1 ./network/ 2>&1 |
	tee _out/bench/network.log | grep -E '^(Benchmark|ok|FAIL|PASS)'
exit "${PIPESTATUS[0]}"
