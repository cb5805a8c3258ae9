package main

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// labelRef is the config label that makes every recipe's config, and hence
// its image ID, distinct: images with equal layers and settings would
// otherwise share an ID, and the conformance suite counts IDs.
const labelRef = "org.logbook.test.ref"

// defaultPath is the PATH of every image, as in the upstream images.
const defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Layer names. An image is an ordered list of them; a layer used by several
// images is built once and stored once.
const (
	layerBase       = "busybox"          // busybox, its applets as hard links, /etc
	layerNginx      = "nginx"            // Debian's nginx with its libraries
	layerNginx80    = "nginx-conf-80"    // nginx.conf listening on 80
	layerNginx12003 = "nginx-conf-12003" // nginx.conf listening on 12003
	layerHttpd      = "httpd"            // httpd-foreground and a page
	layerNNP        = "nnp"              // the setuid probe
	layerPause      = "pause"            // logbook-pause as /pause
	layerPredefined = "predefined-group" // default-user and its groups
	markerPrefix    = "marker:"          // marker:NAME is an empty file /NAME
	benchPrefix     = "bench:"           // bench:N is the N-th data layer
)

// Sizes of the pull benchmark image: benchLayers layers of benchFiles files
// of benchFileSize bytes each (100 MiB in all).
const (
	benchLayers   = 5
	benchFiles    = 4
	benchFileSize = 5 << 20
)

// recipe is one image: one config, one manifest, any number of names.
type recipe struct {
	ID     string   // the labelRef value; unique in the catalogue
	Refs   []string // full references naming this one manifest
	Layers []string
	Config v1.Config // Labels and Env are filled in by assemble
}

// catalog lists every image the offline tests need (critest-notes section
// 5.1), and with bench the pull benchmark image.
func catalog(bench bool) []recipe {
	const staging = "gcr.io/k8s-staging-cri-tools/"
	sh := []string{"sh"}
	nginxCmd := []string{"nginx", "-g", "daemon off;"}
	port := func(p string) map[string]struct{} { return map[string]struct{}{p: {}} }

	out := []recipe{
		{ID: "e2e-test-images/busybox:1.29-2",
			Refs:   []string{"registry.k8s.io/e2e-test-images/busybox:1.29-2"},
			Layers: []string{layerBase}, Config: v1.Config{Cmd: sh}},
		{ID: "e2e-test-images/nginx:1.14-2",
			Refs:   []string{"registry.k8s.io/e2e-test-images/nginx:1.14-2"},
			Layers: []string{layerBase, layerNginx, layerNginx80},
			Config: v1.Config{Cmd: nginxCmd, ExposedPorts: port("80/tcp")}},
		{ID: "e2e-test-images/httpd:2.4.39-4",
			Refs:   []string{"registry.k8s.io/e2e-test-images/httpd:2.4.39-4"},
			Layers: []string{layerBase, layerHttpd},
			Config: v1.Config{Cmd: []string{"httpd-foreground"}, ExposedPorts: port("80/tcp")}},
		{ID: "e2e-test-images/nonewprivs:1.3",
			Refs:   []string{"registry.k8s.io/e2e-test-images/nonewprivs:1.3"},
			Layers: []string{layerBase, layerNNP},
			Config: v1.Config{Entrypoint: []string{"/usr/local/bin/nnp"}}},
		// One manifest under two registries: the suite checks they pull to
		// one image ID.
		{ID: "pause:3.9",
			Refs:   []string{"registry.k8s.io/pause:3.9", "k8s.gcr.io/pause:3.9"},
			Layers: []string{layerPause},
			Config: v1.Config{Entrypoint: []string{"/pause"}, User: "65535:65535"}},
		{ID: "k8s-staging-cri-tools/hostnet-nginx-amd64:latest",
			Refs:   []string{staging + "hostnet-nginx-amd64:latest"},
			Layers: []string{layerBase, layerNginx, layerNginx12003},
			Config: v1.Config{Cmd: nginxCmd, ExposedPorts: port("12003/tcp")}},
	}

	// Busybox plus an empty marker file named after the test, as upstream.
	marker := func(repoTag, file string) recipe {
		return recipe{ID: "k8s-staging-cri-tools/" + repoTag, Refs: []string{staging + repoTag},
			Layers: []string{layerBase, markerPrefix + file}, Config: v1.Config{Cmd: sh}}
	}
	out = append(out,
		marker("test-image-tag:test", "test"),
		marker("test-image-tag:all", "all"),
		marker("test-image-latest:latest", "test-image-latest"),
		marker("test-image-1:latest", "test-image-1"),
		marker("test-image-2:latest", "test-image-2"),
		marker("test-image-3:latest", "test-image-3"),
	)
	// One manifest with three tags and no other name.
	tags := marker("test-image-tags", "same-image")
	tags.Refs = []string{staging + "test-image-tags:1", staging + "test-image-tags:2", staging + "test-image-tags:3"}
	out = append(out, tags)

	user := func(repo, u string) recipe {
		return recipe{ID: "k8s-staging-cri-tools/" + repo + ":latest", Refs: []string{staging + repo + ":latest"},
			Layers: []string{layerBase}, Config: v1.Config{Cmd: sh, User: u}}
	}
	out = append(out,
		user("test-image-user-uid", "1002"),
		user("test-image-user-username", "www-data"),
		user("test-image-user-uid-group", "1003:1004"),
		user("test-image-user-username-group", "www-data:1004"),
		recipe{ID: "k8s-staging-cri-tools/test-image-predefined-group:latest",
			Refs:   []string{staging + "test-image-predefined-group:latest"},
			Layers: []string{layerBase, layerPredefined}, Config: v1.Config{Cmd: sh, User: "1000"}},
	)

	// critest's image benchmarks list these; any busybox content will do.
	for _, tag := range []string{"1.35.0-glibc", "1-uclibc", "1", "1-glibc", "1-musl"} {
		out = append(out, recipe{ID: "docker/library/busybox:" + tag,
			Refs:   []string{"public.ecr.aws/docker/library/busybox:" + tag},
			Layers: []string{layerBase}, Config: v1.Config{Cmd: sh}})
	}
	// `crictl pull busybox` in logbook's own tests.
	out = append(out, recipe{ID: "library/busybox:latest",
		Refs:   []string{"docker.io/library/busybox:latest"},
		Layers: []string{layerBase}, Config: v1.Config{Cmd: sh}})

	if bench {
		layers := []string{layerBase}
		for i := 0; i < benchLayers; i++ {
			layers = append(layers, fmt.Sprintf("%s%d", benchPrefix, i))
		}
		out = append(out, recipe{ID: "bench/big:100m", Refs: []string{"logbook.test/bench/big:100m"},
			Layers: layers, Config: v1.Config{Cmd: sh}})
	}
	return out
}

// inputsFor lists the pinned inputs a catalogue needs, for `fetch`.
func inputsFor(recipes []recipe) []string {
	need := []string{"busybox-orig", "busybox-debian"}
	for _, r := range recipes {
		for _, l := range r.Layers {
			if l == layerNginx {
				return append(need, nginxPackages()...)
			}
		}
	}
	return need
}

// nginxPackages are the .debs the nginx layer is cut from.
func nginxPackages() []string {
	return []string{"nginx", "nginx-common", "libc6", "libcrypt1", "libpcre2-8-0", "libssl3", "zlib1g"}
}

// benchData is the deterministic, incompressible content of one file of the
// benchmark image: SHA-256 in counter mode over (layer, file, block).
func benchData(layer, file, size int) []byte {
	out := make([]byte, 0, size+sha256.Size)
	var seed [24]byte
	binary.BigEndian.PutUint64(seed[0:], uint64(layer))
	binary.BigEndian.PutUint64(seed[8:], uint64(file))
	for block := uint64(0); len(out) < size; block++ {
		binary.BigEndian.PutUint64(seed[16:], block)
		sum := sha256.Sum256(seed[:])
		out = append(out, sum[:]...)
	}
	return out[:size]
}

// repoPath is the repository and tag a reference is served under by the
// loopback registry: the reference without its host, so that one registry
// can stand in for every upstream registry through mirror configuration.
func repoPath(ref string) (string, error) {
	host, rest, ok := strings.Cut(ref, "/")
	if !ok || !strings.ContainsAny(host, ".:") && host != "localhost" {
		return "", fmt.Errorf("%w: %q has no registry host", ErrUsage, ref)
	}
	if rest == "" || strings.Contains(rest, "@") {
		return "", fmt.Errorf("%w: %q must name a tag, not a digest", ErrUsage, ref)
	}
	if !strings.Contains(rest[strings.LastIndex(rest, "/")+1:], ":") {
		rest += ":latest"
	}
	return rest, nil
}
