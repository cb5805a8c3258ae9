#!/bin/sh
# Installs the system packages logbook runs and tests with, from Debian's
# archive, only when something is missing: on a machine that has them all it
# touches nothing and needs no network.
#   runc                        the OCI runtime logbookd drives
#   containernetworking-plugins CNI plugins (bridge, host-local, portmap, loopback)
#   iptables                    used by the bridge and portmap plugins
#   busybox-static              a static busybox for tests' throwaway rootfs
#   iproute2 util-linux procps  ip/netns, ipcmk (critest HostIpc), ps/pgrep
#   gcc libc6-dev make          the static C pause (cmd/logbook-pause), busybox test image
#   bzip2 xz-utils patch        unpacking the Debian busybox source for the test image
#   ca-certificates             TLS to real registries
set -eu
pkgs="runc containernetworking-plugins iptables busybox-static iproute2 util-linux procps gcc libc6-dev make bzip2 xz-utils patch ca-certificates"
missing=""
for p in $pkgs; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
if [ -n "$missing" ]; then
	echo "deps: installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
if ! command -v go >/dev/null 2>&1; then
	echo "deps: Go 1.26 is required (expected at /usr/local/go/bin)" >&2
	exit 1
fi
