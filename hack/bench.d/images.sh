#!/bin/bash
# Images (runtime/images, criserver's ImageService):
#  - PullImage of the 100 MiB multi-layer benchmark image
#    (logbook.test/bench/big:100m, 5 layers of 4 incompressible 5 MiB files)
#    from the loopback test registry into an empty store: resolve, download,
#    digest checks, unpack with fsyncs, journal append; $PULLS pulls, each
#    from a fresh root. MB/s is bytes of the image per second.
#  - ImageStatus and ListImages over the CRI socket (interceptors and metrics
#    included) with 200 images: mean, p50, p99.
# The benchmark image is built once into its own layout next to the shared
# one ($LOGBOOK_TESTDATA_CACHE, default /var/cache/logbook/testdata), so the
# registry other runs use is left alone.
set -uo pipefail
pulls=${PULLS:-5}
cache=${LOGBOOK_TESTDATA_CACHE:-/var/cache/logbook/testdata}
layout=$cache/bench-layout
mkdir -p _out/bench
log=_out/bench/images.log
: >"$log"
status=0

[ -x bin/testimages ] || go build -o bin/testimages ./testdata/testimages || exit 1
if ! bin/testimages list --layout "$layout" 2>/dev/null | grep -q '^logbook.test/bench/big:100m'; then
	echo "building the benchmark image into $layout"
	bin/testimages build --bench --offline --out "$layout" >>"$log" 2>&1 ||
		bin/testimages build --bench --out "$layout" >>"$log" 2>&1 || {
		echo "cannot build the benchmark image (see $log)"
		exit 1
	}
fi

work=$(mktemp -d)
bin/testimages serve --layout "$layout" --addr 127.0.0.1:0 --addr-file "$work/addr" >>"$log" 2>&1 &
registry=$!
trap 'kill $registry 2>/dev/null; wait $registry 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 600); do # the address is written once every tag resolves
	[ -s "$work/addr" ] && break
	kill -0 $registry 2>/dev/null || break
	sleep 0.1
done
if [ ! -s "$work/addr" ]; then
	echo "the test registry did not start (see $log)"
	exit 1
fi

echo "PullImage of logbook.test/bench/big:100m (101 MiB, 5 layers) from loopback, $pulls pulls (ns/op, MB/s, p50-ms, max-ms)"
LOGBOOK_BENCH_REGISTRY=$(cat "$work/addr") go test -run '^$' -bench '^BenchmarkPullBig$' -benchtime "${pulls}x" -count 1 ./runtime/images/ 2>&1 |
	tee -a "$log" | grep -E '^(Benchmark|ok|FAIL|PASS)'
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1

echo "ImageStatus / ListImages over the socket with 200 images (ns/op, p50-µs, p99-µs)"
go test -run '^$' -bench '^(BenchmarkImageStatus200|BenchmarkListImages200)$' -benchtime 2s -count 1 ./criserver/ 2>&1 |
	tee -a "$log" | grep -E '^(Benchmark|ok|FAIL|PASS)'
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
exit $status
