package oci

import (
	"path"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// ProcessArgs merges the image's ENTRYPOINT and CMD with the request's
// command and args, as kubelets expect (the Docker rules):
//
//   - command, when given, replaces ENTRYPOINT and drops CMD;
//   - args, when given, replace CMD;
//   - the result is ENTRYPOINT+CMD with whatever replaced them.
//
// An ENTRYPOINT of a single empty string means "no entrypoint" (what
// `ENTRYPOINT []` leaves in some image configs). Nothing left to run is an
// error, and so is an empty program name.
func ProcessArgs(command, args []string, img ocispec.ImageConfig) ([]string, error) {
	var argv []string
	if len(command) > 0 {
		argv = append(append(argv, command...), args...)
	} else {
		if !(len(img.Entrypoint) == 1 && img.Entrypoint[0] == "") {
			argv = append(argv, img.Entrypoint...)
		}
		if len(args) > 0 {
			argv = append(argv, args...)
		} else {
			argv = append(argv, img.Cmd...)
		}
	}
	if len(argv) == 0 {
		return nil, invalidf("command: no command given and the image has neither ENTRYPOINT nor CMD")
	}
	if argv[0] == "" {
		return nil, invalidf("command: the program to run is an empty string")
	}
	for i, a := range argv {
		if strings.IndexByte(a, 0) >= 0 {
			return nil, invalidf("command: argument %d contains a NUL byte", i)
		}
	}
	return argv, nil
}

// MergeEnv merges lists of "KEY=value" entries: a later entry replaces an
// earlier one with the same key in place, so the order is that of first
// appearance. An entry without "=" is a key with no value.
func MergeEnv(lists ...[]string) []string {
	var (
		out   []string
		index = map[string]int{}
	)
	for _, list := range lists {
		for _, e := range list {
			k, _, _ := strings.Cut(e, "=")
			if i, ok := index[k]; ok {
				out[i] = e
				continue
			}
			index[k] = len(out)
			out = append(out, e)
		}
	}
	return out
}

// containerEnv is the environment of a container's process: a default PATH,
// HOSTNAME, then the image's ENV, then the request's envs, each layer
// overriding the ones before it key by key (the containerd order).
func containerEnv(hostname string, img []string, envs []*runtimeapi.KeyValue) ([]string, error) {
	cri := make([]string, 0, len(envs))
	for i, kv := range envs {
		k := kv.GetKey()
		if k == "" || strings.ContainsAny(k, "=\x00") {
			return nil, invalidf("envs[%d]: key %q is empty or contains '=' or NUL", i, k)
		}
		v := string(kv.GetValue())
		if strings.IndexByte(v, 0) >= 0 {
			return nil, invalidf("envs[%d] (%s): value contains a NUL byte", i, k)
		}
		cri = append(cri, k+"="+v)
	}
	var imgEnv []string
	for _, e := range img {
		// Entries that are not KEY=value, or hold a NUL that cannot cross
		// execve, are dropped: better than failing every container of the
		// image.
		if k, _, ok := strings.Cut(e, "="); ok && k != "" && strings.IndexByte(e, 0) < 0 {
			imgEnv = append(imgEnv, e)
		}
	}
	base := []string{DefaultPathEnv}
	if hostname != "" {
		base = append(base, "HOSTNAME="+hostname)
	}
	return MergeEnv(base, imgEnv, cri), nil
}

// WorkingDir picks the process's working directory: the request's, else
// the image's WORKDIR, else "/". The request's must be absolute; an image's
// relative WORKDIR is taken from "/" (as Docker builds it).
func WorkingDir(request, image string) (string, error) {
	switch {
	case request != "":
		if !path.IsAbs(request) || strings.IndexByte(request, 0) >= 0 {
			return "", invalidf("working_dir %q is not an absolute path", request)
		}
		return path.Clean(request), nil
	case image != "" && strings.IndexByte(image, 0) < 0:
		return path.Join("/", image), nil
	default:
		return "/", nil
	}
}
