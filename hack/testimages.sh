#!/bin/sh
# Build and serve logbook's offline test images (testdata/testimages).
#
#   hack/testimages.sh fetch                     download the pinned inputs (needs deb.debian.org)
#   hack/testimages.sh build [--bench]           build the OCI layout, offline once fetched
#   hack/testimages.sh serve --addr-file FILE    loopback registry until SIGTERM
#   hack/testimages.sh list [-l]                 references in the layout
#
# The cache is $LOGBOOK_TESTDATA_CACHE (default /var/cache/logbook/testdata).
# The tool is compiled once into the cache, so that `serve` runs as one
# process (signals reach it, not a `go run` parent).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cache=${LOGBOOK_TESTDATA_CACHE:-/var/cache/logbook/testdata}
mkdir -p "$cache"
bin="$cache/bin/testimages"
(cd "$root" && go build -o "$bin" ./testdata/testimages)
cd "$root"
exec "$bin" "$@"
