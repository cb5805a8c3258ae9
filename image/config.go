package image

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"runtime"
	"strconv"
	"strings"
)

// Config is what the image service and the container runtime need from an
// image's configuration (the OCI image config; Docker's is the same JSON).
type Config struct {
	OS           string
	Architecture string
	Variant      string
	// User is the raw "user[:group]" of the image; see ParseUser.
	User       string
	Env        []string
	Entrypoint []string
	Cmd        []string
	WorkingDir string
	StopSignal string
	Labels     map[string]string
	// DiffIDs are the digests of the uncompressed layers, bottom first.
	DiffIDs []string
}

// ociConfig is the subset of the image config JSON that Config reads.
type ociConfig struct {
	OS           string `json:"os"`
	Architecture string `json:"architecture"`
	Variant      string `json:"variant"`
	Config       struct {
		User       string            `json:"User"`
		Env        []string          `json:"Env"`
		Entrypoint []string          `json:"Entrypoint"`
		Cmd        []string          `json:"Cmd"`
		WorkingDir string            `json:"WorkingDir"`
		StopSignal string            `json:"StopSignal"`
		Labels     map[string]string `json:"Labels"`
	} `json:"config"`
	RootFS struct {
		Type    string   `json:"type"`
		DiffIDs []string `json:"diff_ids"`
	} `json:"rootfs"`
}

// ParseConfig reads an image config. It fails with ErrInvalidImage when the
// JSON does not parse, the rootfs is not of type "layers", or a diff ID is
// not a sha256 digest.
func ParseConfig(raw []byte) (Config, error) {
	var c ociConfig
	if err := json.Unmarshal(raw, &c); err != nil {
		return Config{}, fmt.Errorf("%w: config: %w", ErrInvalidImage, err)
	}
	if c.RootFS.Type != "layers" {
		return Config{}, fmt.Errorf("%w: config: rootfs type %q, want \"layers\"", ErrInvalidImage, c.RootFS.Type)
	}
	for _, d := range c.RootFS.DiffIDs {
		if _, err := parseDigest(d); err != nil {
			return Config{}, fmt.Errorf("%w: config: diff id: %w", ErrInvalidImage, err)
		}
	}
	return Config{
		OS:           c.OS,
		Architecture: c.Architecture,
		Variant:      c.Variant,
		User:         c.Config.User,
		Env:          c.Config.Env,
		Entrypoint:   c.Config.Entrypoint,
		Cmd:          c.Config.Cmd,
		WorkingDir:   c.Config.WorkingDir,
		StopSignal:   c.Config.StopSignal,
		Labels:       c.Config.Labels,
		DiffIDs:      c.RootFS.DiffIDs,
	}, nil
}

// ParseUser splits an image's "user[:group]" the way the CRI reports it: a
// numeric user is a uid, anything else a username; the group is dropped.
// An empty user yields neither.
func ParseUser(user string) (uid *int64, username string) {
	u, _, _ := strings.Cut(user, ":")
	if u == "" {
		return nil, ""
	}
	if n, err := strconv.ParseInt(u, 10, 64); err == nil && n >= 0 {
		return &n, ""
	}
	return nil, u
}

// ChainIDs computes the chain IDs of a layer stack from its diff IDs,
// bottom first: the first is the first diff ID, each next one is
// sha256("<previous chain id> <diff id>"). A chain ID names a layer
// together with everything below it, so one snapshot serves every image
// that shares the stack.
func ChainIDs(diffIDs []string) []string {
	out := make([]string, len(diffIDs))
	for i, d := range diffIDs {
		if i == 0 {
			out[i] = d
			continue
		}
		sum := sha256.Sum256([]byte(out[i-1] + " " + d))
		out[i] = "sha256:" + hex.EncodeToString(sum[:])
	}
	return out
}

// Platform names the OS and CPU a manifest list entry is for.
type Platform struct {
	OS           string
	Architecture string
	Variant      string
}

// HostPlatform is the platform this binary runs on: runtime.GOOS and
// runtime.GOARCH, with the variant implied for arm64 (v8).
func HostPlatform() Platform {
	p := Platform{OS: runtime.GOOS, Architecture: runtime.GOARCH}
	if p.Architecture == "arm64" {
		p.Variant = "v8"
	}
	return p
}

func (p Platform) String() string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// normVariant treats arm64's default variant as the absent one.
func normVariant(arch, v string) string {
	if arch == "arm64" && v == "v8" {
		return ""
	}
	return v
}

// matches reports whether an image for q runs on p: same OS and
// architecture, and the same variant where both name one.
func (p Platform) matches(q Platform) bool {
	if p.OS != q.OS || p.Architecture != q.Architecture {
		return false
	}
	pv, qv := normVariant(p.Architecture, p.Variant), normVariant(q.Architecture, q.Variant)
	return pv == "" || qv == "" || pv == qv
}

// parseDigest checks that d is "sha256:<64 lowercase hex>" and returns the hex.
func parseDigest(d string) (string, error) {
	hexPart, ok := strings.CutPrefix(d, "sha256:")
	if !ok || len(hexPart) != 64 {
		return "", fmt.Errorf("digest %q is not sha256:<64 hex>", d)
	}
	for _, c := range hexPart {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return "", fmt.Errorf("digest %q is not sha256:<64 hex>", d)
		}
	}
	return hexPart, nil
}
