#!/bin/bash
# Exec (runtime/streaming, criserver/streamserver), over the CRI socket of
# an in-process server (criserver with its interceptors) with real runc,
# shims and a busybox container:
#  - ExecSync of `true`: p50 / p90 in ms (what a kubelet's exec probe costs);
#  - ExecSync of a command writing 100 MiB to stdout: the response carries
#    the output budget (kept-MiB, 16 MiB less a margin) and the rest is read
#    and dropped; MiB/s is the command's 100 MiB over the call's duration;
#  - streaming Exec of the same command through the streaming server with
#    client-go's SPDY executor (as kubectl and crictl), all 100 MiB read.
set -uo pipefail
mkdir -p _out/bench
log=_out/bench/exec.log
echo "ExecSync true (p50-ms p90-ms; runc-p50-ms: a bare runc exec of the same container); 100 MiB stdout through ExecSync (capped) and streaming Exec (MiB/s)"
go test -run '^$' -bench 'BenchmarkExecSyncTrue|BenchmarkExecSync100MiB|BenchmarkExec100MiB' \
	-benchtime "${EXEC_BENCH_N:-100}x" -count 1 ./runtime/streaming/ 2>&1 |
	tee "$log" | grep -E '^(Benchmark|ok|FAIL|PASS)'
exit "${PIPESTATUS[0]}"
