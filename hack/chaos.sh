#!/bin/bash
# make chaos: hack/chaos against a throwaway logbookd of bin/: pods churned
# over the socket while the daemon is SIGKILLed at random moments and
# restarted, every restart checked (statuses, exits and OOM kills that
# happened while it was down, `logbook journal verify`, events exactly
# once in order, leaks). ROUNDS (default 60, about 5 minutes here) and
# SEED (default: from the clock, printed) tune it; CHAOS_FLAGS adds flags.
# The output (and the kept run directory, on a violation) is in _out/chaos.
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:$PATH
mkdir -p _out/chaos
if ! bin/testimages build >_out/chaos/testimages-build.log 2>&1; then
	tail -20 _out/chaos/testimages-build.log
	echo "chaos: the test images do not build (log: _out/chaos/testimages-build.log)"
	exit 1
fi
go build -o bin/chaos ./hack/chaos || exit 1
args=(-bin bin -rounds "${ROUNDS:-60}")
[ -n "${SEED:-}" ] && args+=(-seed "$SEED")
# shellcheck disable=SC2086
bin/chaos "${args[@]}" ${CHAOS_FLAGS:-} 2>&1 | tee _out/chaos/chaos.log
exit "${PIPESTATUS[0]}"
