// Command critest runs the CRI conformance suite (critest, built from
// sigs.k8s.io/cri-tools) against a throwaway logbookd, and judges the result
// against the list of specs expected to pass.
//
// It starts the offline test registry and a logbookd with its own root, state
// and socket (mirroring the public registries the suite pulls from onto the
// loopback registry), runs critest with a JSON report, stops everything, and
// prints one summary line:
//
//	critest: N passed, N failed, N skipped
//
// It exits non-zero when a spec listed in the expected-pass file did not
// pass, and lists specs that passed without being listed, so the file can
// grow as capabilities land.
package main
