// Command testimages builds the container images logbook's tests and the
// CRI conformance suite (critest) pull, and serves them from a registry on
// loopback, so that no test ever needs the internet.
//
//	go run ./testdata/testimages fetch                 # once, with network
//	go run ./testdata/testimages build [--bench]       # offline from then on
//	go run ./testdata/testimages serve --addr-file F   # until SIGTERM
//	go run ./testdata/testimages list
//
// # Inputs, and why they are pinned
//
// The upstream images (registry.k8s.io/e2e-test-images/*, gcr.io/k8s-staging-
// cri-tools/*, pause) cannot be fetched here, and a rebuilt image could never
// have their digests anyway, so the catalogue (catalog.go) describes images
// that behave as the suite expects: the same names, the same configs, the
// files and programs the specs exec. Their content comes from three places:
// Debian's busybox source package and a handful of .debs (nginx and the
// libraries it links), each pinned by URL, size and sha256 in
// testdata/images/inputs.lock; small files in testdata/images; and two
// programs of this repository, cmd/logbook-pause and the setuid probe
// testdata/images/nnp. Downloads happen only when the cache lacks a file, and
// a file that does not match its pin is refused, so after one `fetch` the
// machine can build forever without a network, and everyone who builds from
// the same pins gets the same bytes.
//
// # Reproducibility
//
// Equal inputs give equal digests, every time. Layers are computed, not
// copied from a directory: a layer is a list of entries (tree.go) that is
// normalized (implied parents added, sorted by path, hard link groups
// resolved so that a link always follows its target) and written with one
// fixed time, numeric owners (0:0 unless a file must belong to someone else,
// as nginx's temp directories and default-user's home), no user names, and a
// gzip header without name or time. Configs and history carry the same fixed
// time. Busybox is built with SOURCE_DATE_EPOCH and KCONFIG_NOTIMESTAMP in a
// fixed directory; the pause is `cc -static -Os -s`; the probe is built with
// -trimpath, no VCS stamp and no build ID in a module of its own. A test
// builds the whole catalogue twice and compares every blob.
//
// # Busybox
//
// Debian's own busybox packages are unusable for the suite (a standalone
// shell that never execs /bin/ls, so masking /bin/ls masks nothing; no ipcs,
// no pgrep). The build applies Debian's patches to the pinned 1.35.0 source,
// runs `make defconfig`, forces the settings the images need (static, tc
// off, no standalone shell, ipcs and pgrep on), checks them after
// `make oldconfig`, and checks the applet list of the result. It takes a
// minute or more, so the binary is cached under a key hashing everything that
// can change it (the sources, the settings, the recipe, the compiler and C
// library). Each applet is a hard link to /bin/busybox in /bin: masking
// /bin/ls then hides ls and nothing else.
//
// # Nginx
//
// The nginx images carry Debian's nginx binary and exactly the libraries its
// ELF headers ask for, resolved transitively inside the pinned packages the
// way the dynamic loader would (deb.go): what `ldd` would list, computed from
// the pins instead of from whatever the host has installed.
//
// # The layout and the registry
//
// `build` writes an OCI image layout (default <cache>/layout) with one index
// entry per reference, annotated with the full reference name
// (org.opencontainers.image.ref.name and io.containerd.image.name). Every
// recipe carries a label (org.logbook.test.ref) that makes its config, hence
// its image ID, its own; only the intended aliases share a manifest. The
// layout is replaced atomically.
//
// `serve` starts go-containerregistry's registry on a loopback address only.
// The layout is its blob store (read-only, nothing is copied), and at start
// the manifest of every reference is pushed under the reference minus its
// host: registry.k8s.io/e2e-test-images/busybox:1.29-2 is served as
// e2e-test-images/busybox:1.29-2, docker.io/library/busybox:latest as
// library/busybox:latest. A runtime reaches it through registry mirrors for
// registry.k8s.io, gcr.io, k8s.gcr.io, public.ecr.aws, docker.io (and
// logbook.test for the benchmark image); serve prints that configuration.
// The bound address is written to --addr-file once every tag resolves.
//
// # Tests
//
// Pure parts (lock parsing, layer normalization, kconfig editing, library
// closure, catalogue invariants, repository mapping) are table-tested. The
// build is tested end to end from the cache, offline; tests never download
// and skip when the cache lacks the inputs. The images are also run for real
// with the host's runc in throwaway containers: busybox's applets and masked
// paths, nginx as PID 1 with its pid file and worker user answering 200,
// httpd, the setuid probe with and without no_new_privs, and the pause
// reaping orphans as PID 1 and exiting 0 on SIGTERM.
package main
