#!/bin/bash
# Pods and containers (runtime/sandbox, runtime/container) end to end over
# the CRI socket, by the load driver hack/loadtest against a throwaway
# logbookd (bin/, with logbook-shim and logbook-pause next to it):
#  - pod start (RunPodSandbox + CreateContainer + StartContainer of a
#    busybox sleep) p50/p90, pod stop / remove, container stop / remove;
#  - pods/s with 4 concurrent workers;
#  - in the same run, the baseline: `runc run -d` of the same two bundles
#    (infra and container, fresh namespaces), printed as a ratio (budget:
#    pod start within 1.3x of the two bare runs);
#  - ListContainers / ListPodSandbox / ContainerStatus with 1,000
#    containers (budget: lists under 2 ms).
# Pods get a network (a private CNI bridge); LOADTEST_ARGS=-cni=false runs
# host-network pods instead. Figures only: nothing is asserted.
set -uo pipefail
mkdir -p _out/bench
go build -o _out/bench/loadtest ./hack/loadtest || exit 1
_out/bench/loadtest -samples "${POD_SAMPLES:-50}" -workers 4 -parallel-pods "${PARALLEL_PODS:-40}" \
	-list-containers "${LIST_CONTAINERS:-1000}" ${LOADTEST_ARGS:-} 2>&1 | tee _out/bench/lifecycle.log
exit "${PIPESTATUS[0]}"
