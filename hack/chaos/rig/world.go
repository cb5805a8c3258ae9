package rig

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/logbook-cri/logbook/journal/remote"
)

// Busybox is the image every container of the drivers runs.
const Busybox = "registry.k8s.io/e2e-test-images/busybox:1.29-2"

// Config describes a World.
type Config struct {
	// Bin holds logbookd (with logbook-shim and logbook-pause), logbook
	// and testimages.
	Bin string
	// Dir is the run's directory, created if needed: the daemon's root
	// and state, the CNI configuration and leases, logs.
	Dir string
	// Bridge names the run's CNI bridge (at most 15 bytes); Subnet is its
	// host-local range, e.g. "10.198.0.0/22".
	Bridge, Subnet string
	// Retention is the daemon's journal-retention (0: its default).
	Retention time.Duration
	// LogLevel is the daemon's log level (default "info").
	LogLevel string
	// Metrics gives the daemon a metrics endpoint on a free loopback port.
	Metrics bool
	Log     *slog.Logger
}

// World is one run's node: the registry, the network and the daemon.
type World struct {
	cfg    Config
	log    *slog.Logger
	reaper *Reaper

	Root, State, Socket string
	// CgroupRoot is the run's cgroup parent (cgroupfs path, no leading
	// slash); PodCgroupParent gives each pod its own below it.
	CgroupRoot string
	// MetricsAddr is the daemon's metrics endpoint ("" without).
	MetricsAddr string
	// LeaseDir is host-local's data directory for the run's network.
	LeaseDir string
	network  string
	cfgPath  string
	registry *exec.Cmd
	mirror   string

	d      *daemon
	starts int
}

// daemon is one run of logbookd.
type daemon struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once the process is reaped; err is then set
	err  error
	conn *grpc.ClientConn
	log  *os.File
}

// New starts the registry and writes the network's and the daemon's
// configuration; the daemon is not started.
func New(cfg Config) (*World, error) {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	if cfg.LogLevel == "" {
		cfg.LogLevel = "info"
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	cfg.Dir = dir
	// The leak checks count what hangs off the run's bridge: one that a
	// killed earlier run left, with its pods' veths, would be counted as
	// this run's leak.
	if l, err := netlink.LinkByName(cfg.Bridge); err == nil {
		ports, _ := netlink.LinkList()
		n := 0
		for _, p := range ports {
			if p.Attrs().MasterIndex == l.Attrs().Index {
				n++
			}
		}
		if n > 0 {
			return nil, fmt.Errorf("bridge %s already exists with %d ports: an earlier run left it (and its pods' namespaces, mounted under its run directory); clean that up first", cfg.Bridge, n)
		}
	}
	r, err := NewReaper()
	if err != nil {
		return nil, err
	}
	w := &World{
		cfg: cfg, log: cfg.Log, reaper: r,
		Root: filepath.Join(dir, "root"), State: filepath.Join(dir, "state"),
		CgroupRoot: fmt.Sprintf("logbook-rig-%d", os.Getpid()),
		LeaseDir:   filepath.Join(dir, "ipam"),
		network:    cfg.Bridge,
	}
	w.Socket = filepath.Join(w.State, "logbook.sock")
	if err := w.startRegistry(); err != nil {
		w.Close()
		return nil, err
	}
	if err := w.writeConfig(); err != nil {
		w.Close()
		return nil, err
	}
	return w, nil
}

// Reaper is the world's: every command the driver runs goes through it.
func (w *World) Reaper() *Reaper { return w.reaper }

// Dir is the run's directory.
func (w *World) Dir() string { return w.cfg.Dir }

// Network is the CNI network's name (and its bridge's).
func (w *World) Network() string { return w.network }

func (w *World) startRegistry() error {
	addrFile := filepath.Join(w.cfg.Dir, "registry.addr")
	os.Remove(addrFile)
	logf, err := os.Create(filepath.Join(w.cfg.Dir, "registry.log"))
	if err != nil {
		return err
	}
	defer logf.Close()
	w.registry = exec.Command(filepath.Join(w.cfg.Bin, "testimages"), "serve", "--addr", "127.0.0.1:0", "--addr-file", addrFile)
	w.registry.Stdout, w.registry.Stderr = logf, logf
	if err := w.reaper.Start(w.registry); err != nil {
		return err
	}
	for deadline := time.Now().Add(90 * time.Second); ; {
		if b, err := os.ReadFile(addrFile); err == nil && len(bytes.TrimSpace(b)) > 0 {
			w.mirror = "http://" + string(bytes.TrimSpace(b))
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the test registry: %w (log %s)", ErrNotReady, logf.Name())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (w *World) writeConfig() error {
	confDir := filepath.Join(w.cfg.Dir, "net.d")
	if err := os.MkdirAll(confDir, 0o755); err != nil {
		return err
	}
	conf := fmt.Sprintf(`{"cniVersion":"1.0.0","name":%q,"plugins":[
	{"type":"bridge","bridge":%q,"isGateway":true,"ipMasq":false,
	 "ipam":{"type":"host-local","ranges":[[{"subnet":%q}]],"dataDir":%q}},
	{"type":"portmap","capabilities":{"portMappings":true}}]}`, w.network, w.cfg.Bridge, w.cfg.Subnet, w.LeaseDir)
	if err := os.WriteFile(filepath.Join(confDir, "10-rig.conflist"), []byte(conf), 0o644); err != nil {
		return err
	}
	mirrors := map[string][]string{}
	for _, h := range []string{"registry.k8s.io", "gcr.io", "k8s.gcr.io", "docker.io", "public.ecr.aws"} {
		mirrors[h] = []string{w.mirror}
	}
	cfg := map[string]any{
		"root": w.Root, "state": w.State, "socket": w.Socket,
		"enable-pod-events": true, "cni-conf-dir": confDir, "log-level": w.cfg.LogLevel,
		"registry-mirrors": mirrors, "metrics-address": "",
	}
	if w.cfg.Retention > 0 {
		cfg["journal-retention"] = w.cfg.Retention.String()
	}
	if w.cfg.Metrics {
		port, err := freePort()
		if err != nil {
			return err
		}
		w.MetricsAddr = "127.0.0.1:" + strconv.Itoa(port)
		cfg["metrics-address"] = w.MetricsAddr
		cfg["enable-profiling"] = true
	}
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	w.cfgPath = filepath.Join(w.cfg.Dir, "daemon.json")
	return os.WriteFile(w.cfgPath, b, 0o644)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Start runs logbookd and waits until it answers on its socket.
func (w *World) Start() error {
	if w.d != nil {
		return ErrRunning
	}
	logf, err := os.Create(filepath.Join(w.cfg.Dir, fmt.Sprintf("logbookd-%d.log", w.starts)))
	if err != nil {
		return err
	}
	w.starts++
	cmd := exec.Command(filepath.Join(w.cfg.Bin, "logbookd"), "--config", w.cfgPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := w.reaper.Start(cmd); err != nil {
		logf.Close()
		return err
	}
	d := &daemon{cmd: cmd, done: make(chan struct{}), log: logf}
	go func() { d.err = w.reaper.Wait(cmd); close(d.done) }()
	conn, err := grpc.NewClient("unix://"+w.Socket, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20)))
	if err != nil {
		cmd.Process.Kill()
		<-d.done
		return err
	}
	d.conn = conn
	rt := runtimeapi.NewRuntimeServiceClient(conn)
	for deadline := time.Now().Add(90 * time.Second); ; {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := rt.Version(ctx, &runtimeapi.VersionRequest{})
		cancel()
		if err == nil {
			break
		}
		select {
		case <-d.done:
			conn.Close()
			logf.Close()
			return fmt.Errorf("%w at start: %v (log %s)%s", ErrDaemonExited, d.err, logf.Name(), w.holders())
		default:
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			<-d.done
			conn.Close()
			logf.Close()
			return fmt.Errorf("logbookd: %w: %v (log %s)", ErrNotReady, err, logf.Name())
		}
		time.Sleep(20 * time.Millisecond)
	}
	w.d = d
	return nil
}

// holders names the processes that have a file of the state directory's
// locks open: what keeps a new daemon from starting.
func (w *World) holders() string {
	var out []string
	ents, _ := os.ReadDir("/proc")
	for _, p := range ents {
		fds, err := os.ReadDir("/proc/" + p.Name() + "/fd")
		if err != nil {
			continue
		}
		for _, fd := range fds {
			t, err := os.Readlink("/proc/" + p.Name() + "/fd/" + fd.Name())
			if err == nil && strings.HasPrefix(t, w.State+"/") && strings.HasSuffix(t, ".lock") {
				cmd, _ := os.ReadFile("/proc/" + p.Name() + "/cmdline")
				stat, _ := os.ReadFile("/proc/" + p.Name() + "/stat")
				out = append(out, fmt.Sprintf("pid %s (%s; stat %s) has %s open", p.Name(),
					strings.ReplaceAll(strings.TrimSpace(string(cmd)), "\x00", " "), strings.TrimSpace(string(stat)), t))
			}
		}
	}
	if len(out) == 0 {
		return ""
	}
	return "; " + strings.Join(out, "; ")
}

// Running tells whether a daemon runs.
func (w *World) Running() bool { return w.d != nil }

// Exited tells whether the running daemon has exited on its own, and how.
func (w *World) Exited() (bool, error) {
	if w.d == nil {
		return false, ErrNotRunning
	}
	select {
	case <-w.d.done:
		return true, w.d.err
	default:
		return false, nil
	}
}

// PID is the running daemon's pid (0 when none runs).
func (w *World) PID() int {
	if w.d == nil {
		return 0
	}
	return w.d.cmd.Process.Pid
}

// LogPath is the current (or last) daemon's log.
func (w *World) LogPath() string {
	return filepath.Join(w.cfg.Dir, fmt.Sprintf("logbookd-%d.log", max(0, w.starts-1)))
}

// Conn is the running daemon's connection (nil when none runs).
func (w *World) Conn() *grpc.ClientConn {
	if w.d == nil {
		return nil
	}
	return w.d.conn
}

// RT is the runtime service of the running daemon.
func (w *World) RT() runtimeapi.RuntimeServiceClient {
	return runtimeapi.NewRuntimeServiceClient(w.Conn())
}

// Img is the image service of the running daemon.
func (w *World) Img() runtimeapi.ImageServiceClient {
	return runtimeapi.NewImageServiceClient(w.Conn())
}

// Journal reads the running daemon's journal over its socket.
func (w *World) Journal() *remote.Client { return remote.NewClient(w.Conn()) }

// Kill SIGKILLs the daemon and waits until it is gone.
func (w *World) Kill() {
	if w.d == nil {
		return
	}
	w.d.cmd.Process.Signal(syscall.SIGKILL)
	<-w.d.done
	if h := w.holders(); h != "" {
		w.log.Warn("the killed daemon's lock files are still open" + h)
	}
	w.d.conn.Close()
	w.d.log.Close()
	w.d = nil
}

// Stop stops the daemon with SIGTERM (a clean shutdown), SIGKILL after a
// minute; the error says how it exited.
func (w *World) Stop() error {
	if w.d == nil {
		return nil
	}
	w.d.cmd.Process.Signal(syscall.SIGTERM)
	var err error
	select {
	case <-w.d.done:
		err = w.d.err
	case <-time.After(time.Minute):
		w.d.cmd.Process.Kill()
		<-w.d.done
		err = fmt.Errorf("logbookd did not stop within a minute of SIGTERM")
	}
	w.d.conn.Close()
	w.d.log.Close()
	w.d = nil
	return err
}

// VerifyJournal runs `logbook journal verify` against the running
// daemon and returns its output; the error is its failure.
func (w *World) VerifyJournal(ctx context.Context) (string, error) {
	if w.d == nil {
		return "", ErrNotRunning
	}
	cmd := exec.CommandContext(ctx, filepath.Join(w.cfg.Bin, "logbook"), "--socket", w.Socket, "journal", "verify")
	out, err := w.reaper.Output(cmd)
	return strings.TrimSpace(string(out)), err
}

// PodConfig is a pod of the run's network with a unique name, its own
// log directory and its own cgroup parent below the run's.
func (w *World) PodConfig(name string) *runtimeapi.PodSandboxConfig {
	logDir := filepath.Join(w.cfg.Dir, "logs", name)
	os.MkdirAll(logDir, 0o755)
	return &runtimeapi.PodSandboxConfig{
		Metadata:     &runtimeapi.PodSandboxMetadata{Name: name, Namespace: "rig", Uid: name},
		Hostname:     name,
		LogDirectory: logDir,
		Linux:        &runtimeapi.LinuxPodSandboxConfig{CgroupParent: "/" + w.CgroupRoot + "/" + name},
	}
}

// ContainerConfig is a busybox container running cmd.
func ContainerConfig(name string, cmd ...string) *runtimeapi.ContainerConfig {
	return &runtimeapi.ContainerConfig{
		Metadata: &runtimeapi.ContainerMetadata{Name: name},
		Image:    &runtimeapi.ImageSpec{Image: Busybox},
		Command:  cmd,
		LogPath:  name + ".log",
		Linux:    &runtimeapi.LinuxContainerConfig{},
	}
}

// RemoveAll removes every pod through the running daemon.
func (w *World) RemoveAll(ctx context.Context) error {
	rt := w.RT()
	pods, err := rt.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
	if err != nil {
		return err
	}
	var errs []string
	for _, p := range pods.GetItems() {
		if _, err := rt.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: p.GetId()}); err != nil {
			errs = append(errs, fmt.Sprintf("remove pod %s: %v", p.GetId(), err))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

// Close removes every pod through a daemon (started for it if none
// runs), stops it, stops the registry and the reaper, and removes the
// bridge and the run's cgroups. When no daemon can be started, what runs
// is killed (Scrub). The directory stays: it holds the logs.
func (w *World) Close() {
	if w.d == nil && w.cfgPath != "" {
		if err := w.Start(); err != nil {
			w.log.Warn("no daemon to remove the pods with; killing what runs", "err", err)
			w.Scrub()
		}
	}
	if w.d != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		if err := w.RemoveAll(ctx); err != nil {
			w.log.Warn("removing the pods at the end", "err", err)
		}
		cancel()
		if err := w.Stop(); err != nil {
			w.log.Warn("stopping logbookd", "err", err)
		}
	}
	if w.registry != nil && w.registry.Process != nil {
		w.registry.Process.Signal(syscall.SIGTERM)
		w.reaper.Wait(w.registry)
		w.registry = nil
	}
	if l, err := netlink.LinkByName(w.cfg.Bridge); err == nil {
		netlink.LinkDel(l)
	}
	for _, ctrl := range cgroupControllers() {
		removeEmptyTree(filepath.Join("/sys/fs/cgroup", ctrl, w.CgroupRoot))
	}
	w.reaper.Close()
}

// Scrub kills, without a daemon, what the run left running: every
// container runc knows under the state directory and every shim, and
// unmounts what is mounted under the root and state. It is the last
// resort of Close; a daemon's recovery does it properly.
func (w *World) Scrub() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if states, err := w.RuncStates(ctx); err == nil {
		for id := range states {
			w.reaper.Run(exec.CommandContext(ctx, "runc", "--root", filepath.Join(w.State, "runc"), "delete", "--force", id))
		}
	}
	for _, pid := range w.ShimPIDs() {
		unix.Kill(pid, unix.SIGKILL)
	}
	mps := mountsUnder(w.State, w.Root)
	for i := len(mps) - 1; i >= 0; i-- {
		unix.Unmount(mps[i], unix.MNT_DETACH)
	}
}

// cgroupControllers are the v1 hierarchies mounted on this node (the
// unified one included when it is mounted apart).
func cgroupControllers() []string {
	ents, _ := os.ReadDir("/sys/fs/cgroup")
	var out []string
	for _, e := range ents {
		fi, err := os.Lstat(filepath.Join("/sys/fs/cgroup", e.Name()))
		if err != nil || !fi.IsDir() {
			continue // cpu -> cpu,cpuacct: the directory itself is listed too
		}
		out = append(out, e.Name())
	}
	return out
}

// removeEmptyTree removes the directories of a cgroup tree bottom-up
// (rmdir: a cgroup with processes stays).
func removeEmptyTree(dir string) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		if e.IsDir() {
			removeEmptyTree(filepath.Join(dir, e.Name()))
		}
	}
	unix.Rmdir(dir)
}
