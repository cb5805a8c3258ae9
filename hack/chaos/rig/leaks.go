package rig

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/vishvananda/netlink"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Live is what the daemon says exists, as the leak check judges it.
type Live struct {
	// Objects are every listed pod and container: their files may stay
	// (an exited container keeps its writable layer and shim directory
	// until it is removed).
	Objects map[string]bool
	// Running are the ready pods and the created or running containers:
	// they alone may have processes, runc state, mounts and cgroups.
	Running map[string]bool
	// Ready are the ready pods: they alone may have a veth and a lease.
	Ready map[string]bool
	// Images are the listed images' IDs (config digests).
	Images []string
}

// LiveNow asks the running daemon what exists.
func (w *World) LiveNow(ctx context.Context) (Live, error) {
	l := Live{Objects: map[string]bool{}, Running: map[string]bool{}, Ready: map[string]bool{}}
	rt := w.RT()
	pods, err := rt.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
	if err != nil {
		return l, err
	}
	for _, p := range pods.GetItems() {
		l.Objects[p.GetId()] = true
		if p.GetState() == runtimeapi.PodSandboxState_SANDBOX_READY {
			l.Running[p.GetId()], l.Ready[p.GetId()] = true, true
		}
	}
	ctrs, err := rt.ListContainers(ctx, &runtimeapi.ListContainersRequest{})
	if err != nil {
		return l, err
	}
	for _, c := range ctrs.GetContainers() {
		l.Objects[c.GetId()] = true
		if c.GetState() != runtimeapi.ContainerState_CONTAINER_EXITED {
			l.Running[c.GetId()] = true
		}
	}
	imgs, err := w.Img().ListImages(ctx, &runtimeapi.ListImagesRequest{})
	if err != nil {
		return l, err
	}
	for _, i := range imgs.GetImages() {
		l.Images = append(l.Images, i.GetId())
	}
	return l, nil
}

// RuncStates is runc's view of the run's containers: ID -> status.
func (w *World) RuncStates(ctx context.Context) (map[string]string, error) {
	cmd := exec.CommandContext(ctx, "runc", "--root", filepath.Join(w.State, "runc"), "list", "--format", "json")
	out, err := w.reaper.Output(cmd)
	if err != nil {
		return nil, err
	}
	var list []struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	}
	if t := bytes.TrimSpace(out); len(t) > 0 && !bytes.Equal(t, []byte("null")) {
		if err := json.Unmarshal(t, &list); err != nil {
			return nil, fmt.Errorf("runc list: %w: %q", err, out)
		}
	}
	m := map[string]string{}
	for _, c := range list {
		m[c.ID] = c.Status
	}
	return m, nil
}

// Disagreements lists where the daemon's view and runc's differ: a ready
// pod whose infra does not run, a created or running container runc does
// not have in that state, an exited container or a stopped pod runc still
// knows.
func (w *World) Disagreements(ctx context.Context) ([]string, error) {
	rt := w.RT()
	pods, err := rt.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
	if err != nil {
		return nil, err
	}
	ctrs, err := rt.ListContainers(ctx, &runtimeapi.ListContainersRequest{})
	if err != nil {
		return nil, err
	}
	runc, err := w.RuncStates(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, p := range pods.GetItems() {
		want := ""
		if p.GetState() == runtimeapi.PodSandboxState_SANDBOX_READY {
			want = "running"
		}
		if got := runc[p.GetId()]; got != want {
			out = append(out, fmt.Sprintf("pod %s is %s but runc has its infra %q", short(p.GetId()), p.GetState(), got))
		}
	}
	for _, c := range ctrs.GetContainers() {
		want := map[runtimeapi.ContainerState]string{
			runtimeapi.ContainerState_CONTAINER_CREATED: "created",
			runtimeapi.ContainerState_CONTAINER_RUNNING: "running",
		}[c.GetState()]
		if got := runc[c.GetId()]; got != want {
			out = append(out, fmt.Sprintf("container %s is %s but runc says %q", short(c.GetId()), c.GetState(), got))
		}
	}
	return out, nil
}

// idRE is the shape of logbook's sandbox and container IDs.
var idRE = regexp.MustCompile(`^[0-9a-f]{64}$`)

// Leaks lists what is on the node that live does not account for. See
// the package documentation for what is looked at.
func (w *World) Leaks(ctx context.Context, live Live) []string {
	var found []string
	leak := func(format string, args ...any) { found = append(found, fmt.Sprintf(format, args...)) }

	if runc, err := w.RuncStates(ctx); err != nil {
		leak("runc list failed: %v", err)
	} else {
		for id, st := range runc {
			if !live.Running[id] {
				leak("runc container %s (%s)", short(id), st)
			}
		}
	}
	for _, id := range w.shimProcesses() {
		if !live.Running[id] {
			leak("shim process of %s", short(id))
		}
	}
	for _, d := range []string{filepath.Join(w.State, "shims"), filepath.Join(w.State, "bundles"),
		filepath.Join(w.State, "netns"), filepath.Join(w.State, "sandboxes"), filepath.Join(w.Root, "containers")} {
		for _, id := range listDir(d) {
			if !live.Objects[id] {
				leak("%s/%s", d, short(id))
			}
		}
	}
	for _, mp := range mountsUnder(w.State, w.Root) {
		if !slices.ContainsFunc(idsIn(mp), func(id string) bool { return live.Running[id] }) {
			leak("mount %s", mp)
		}
	}
	for _, cg := range cgroupIDs(w.CgroupRoot) {
		if !live.Running[filepath.Base(cg)] {
			leak("cgroup %s", cg)
		}
	}
	if n, err := vethsOn(w.cfg.Bridge); err == nil && n > len(live.Ready) {
		leak("%d veths on bridge %s for %d ready pods", n, w.cfg.Bridge, len(live.Ready))
	}
	leases, err := ReadLeases(filepath.Join(w.LeaseDir, w.network))
	if err != nil {
		leak("reading the IP leases: %v", err)
	}
	for ip, id := range leases {
		if !live.Ready[id] {
			leak("IP lease %s of %s", ip, short(id))
		}
	}
	imgRoot := filepath.Join(w.Root, "image")
	chains := map[string]bool{}
	for _, id := range live.Images {
		ids, err := w.imageChainIDs(id)
		if err != nil {
			leak("image %s: %v", id, err)
		}
		for _, c := range ids {
			chains[strings.TrimPrefix(c, "sha256:")] = true
		}
	}
	for _, s := range listDir(filepath.Join(imgRoot, "snapshots")) {
		if !chains[s] {
			leak("snapshot %s no image uses", short(s))
		}
	}
	for _, d := range []string{"ingest", "tmp"} {
		for _, n := range listDir(filepath.Join(imgRoot, d)) {
			leak("image store %s/%s left", d, n)
		}
	}
	slices.Sort(found)
	return found
}

// shimProcesses are the IDs of the live (not zombie) shims of this state
// directory.
func (w *World) shimProcesses() []string {
	var ids []string
	marker := []byte(w.State + "/shims/")
	ents, _ := os.ReadDir("/proc")
	for _, p := range ents {
		cmdline, err := os.ReadFile("/proc/" + p.Name() + "/cmdline")
		if err != nil || !bytes.Contains(cmdline, marker) {
			continue
		}
		stat, _ := os.ReadFile("/proc/" + p.Name() + "/stat")
		if i := bytes.LastIndexByte(stat, ')'); i < 0 {
			continue
		} else if f := bytes.Fields(stat[i+1:]); len(f) > 0 && string(f[0]) == "Z" {
			continue
		}
		args := bytes.Split(cmdline, []byte{0})
		for i := range args {
			if string(args[i]) == "-id" && i+1 < len(args) {
				ids = append(ids, string(args[i+1]))
			}
		}
	}
	return ids
}

// ShimPIDs are the pids of the live shims of this state directory.
func (w *World) ShimPIDs() []int {
	var pids []int
	marker := []byte(w.State + "/shims/")
	ents, _ := os.ReadDir("/proc")
	for _, p := range ents {
		var pid int
		if _, err := fmt.Sscanf(p.Name(), "%d", &pid); err != nil {
			continue
		}
		cmdline, err := os.ReadFile("/proc/" + p.Name() + "/cmdline")
		if err == nil && bytes.Contains(cmdline, marker) && bytes.Contains(cmdline, []byte("logbook-shim")) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// mountsUnder lists the mount points below any of the directories.
func mountsUnder(dirs ...string) []string {
	b, _ := os.ReadFile("/proc/self/mountinfo")
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		for _, d := range dirs {
			if strings.HasPrefix(f[4], d+"/") {
				out = append(out, f[4])
			}
		}
	}
	return out
}

// idsIn returns the path elements of p shaped like an ID.
func idsIn(p string) []string {
	var out []string
	for _, e := range strings.Split(p, "/") {
		if idRE.MatchString(e) {
			out = append(out, e)
		}
	}
	return out
}

// cgroupIDs lists the cgroups named like an ID below root in every
// hierarchy, as "<controller>/<path>".
func cgroupIDs(root string) []string {
	var out []string
	for _, ctrl := range cgroupControllers() {
		base := filepath.Join("/sys/fs/cgroup", ctrl)
		filepath.WalkDir(filepath.Join(base, root), func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.IsDir() {
				return nil
			}
			if idRE.MatchString(d.Name()) {
				rel, _ := filepath.Rel(base, p)
				out = append(out, ctrl+"/"+rel)
			}
			return nil
		})
	}
	return out
}

// vethsOn counts the veths enslaved to the bridge.
func vethsOn(bridge string) (int, error) {
	br, err := netlink.LinkByName(bridge)
	if err != nil {
		return 0, err
	}
	links, err := netlink.LinkList()
	if err != nil {
		return 0, err
	}
	n := 0
	for _, l := range links {
		if l.Type() == "veth" && l.Attrs().MasterIndex == br.Attrs().Index {
			n++
		}
	}
	return n, nil
}

// ReadLeases reads a host-local data directory: IP -> the container ID
// (the pod sandbox's) that holds it. Files that are not named like an IP
// (last_reserved_ip.0, lock) are not leases. A missing directory holds
// none.
func ReadLeases(dir string) (map[string]string, error) {
	ents, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, e := range ents {
		if net.ParseIP(e.Name()) == nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		id, _, _ := strings.Cut(strings.ReplaceAll(string(b), "\r", ""), "\n")
		out[e.Name()] = strings.TrimSpace(id)
	}
	return out, nil
}

// imageChainIDs reads an image's config from the content store and
// returns the chain IDs of its layers.
func (w *World) imageChainIDs(id string) ([]string, error) {
	hexd := strings.TrimPrefix(id, "sha256:")
	b, err := os.ReadFile(filepath.Join(w.Root, "image", "content", "blobs", "sha256", hexd))
	if err != nil {
		return nil, err
	}
	var cfg struct {
		RootFS struct {
			DiffIDs []string `json:"diff_ids"`
		} `json:"rootfs"`
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		return nil, err
	}
	return ChainIDs(cfg.RootFS.DiffIDs), nil
}

// ChainIDs computes the OCI chain IDs of a stack of layers from their
// diff IDs: the first is its diff ID, each next one
// sha256(parent chain ID + " " + diff ID).
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

func listDir(dir string) []string {
	ents, _ := os.ReadDir(dir)
	out := make([]string, 0, len(ents))
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

// short abbreviates an ID for messages.
func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
