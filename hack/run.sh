#!/bin/bash
# make run: logbookd in the foreground with defaults (config file
# /etc/logbook/daemon.json when present). Writes a default CNI network
# (bridge + host-local + portmap; logbookd brings up each pod's loopback itself) when the CNI config
# directory is empty, as a node without a network add-on needs one.
set -euo pipefail
cd "$(dirname "$0")/.."
cni_dir=/etc/cni/net.d
if [ -z "$(ls -A "$cni_dir" 2>/dev/null)" ]; then
	mkdir -p "$cni_dir"
	cp testdata/cni/10-logbook.conflist "$cni_dir/"
	echo "run: wrote the default CNI network to $cni_dir/10-logbook.conflist"
fi
args=()
if [ -f /etc/logbook/daemon.json ]; then
	args+=(--config /etc/logbook/daemon.json)
fi
echo "run: starting logbookd; point crictl at it with: crictl --runtime-endpoint unix:///run/logbook/logbook.sock info"
exec bin/logbookd "${args[@]}" "$@"
