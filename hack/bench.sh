#!/bin/bash
# make bench: the performance figures of the brief's budgets, measured on
# this machine (as root: real runc, CNI, cgroups). Figures are printed,
# never asserted. Each component adds its own section below, clearly
# separated; every section runs even if an earlier one failed.
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:$PATH
mkdir -p _out
status=0
section() { echo; echo "== $*"; }

# ── Pod networking (package network) ────────────────────────────────────
# CNI ADD and DEL latency, p50/p90, over N pods through network.Manager on a
# real bridge (bridge + host-local + portmap, the default chain), each pod
# in a namespace of its own. This is what networking adds to a pod's start
# (ADD) and stop (DEL).
section "pod networking: CNI ADD / DEL latency (${CNI_PODS:=100} pods)"
go test -run '^$' -bench '^BenchmarkCNI$' -benchtime "${CNI_PODS}x" -count 1 ./network/ 2>&1 |
	tee _out/bench-network.log | grep -E '^(Benchmark|ok|FAIL|---)' || status=1
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1

exit $status
