package network

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/containernetworking/cni/libcni"
	"github.com/fsnotify/fsnotify"
)

// NotReadyReason is NetworkReady's reason while no network is loadable, the
// one kubelets and other runtimes use.
const NotReadyReason = "NetworkPluginNotReady"

// DefaultUndoTimeout bounds a DEL that undoes a failed ADD, or a DEL run on
// a context that had already ended.
const DefaultUndoTimeout = time.Minute

// pollInterval is how often the configuration directory is looked at
// while it cannot be watched (it does not exist, or was removed).
const pollInterval = 2 * time.Second

// Options configures a Manager.
type Options struct {
	// ConfDir is the CNI configuration directory ("cni-conf-dir"),
	// watched (polled while it does not exist: it is not created, as it
	// is the node's, not the daemon's).
	ConfDir string
	// BinDirs are the plugin directories in search order ("cni-bin-dir").
	BinDirs []string
	// CacheDir holds libcni's result cache and the attachment records. It
	// belongs under the daemon's root, never /var/lib/cni, so two daemons
	// never read each other's results.
	CacheDir string
	// Logger receives configuration changes and teardown warnings.
	Logger *slog.Logger
	// PluginStderr receives what plugins write on stderr; nil discards it
	// (plugins report errors on stdout, which libcni turns into the error).
	PluginStderr io.Writer
	// AfterAdd, when set, runs after a successful ADD and before Setup
	// returns. It exists for fault injection: the crash test kills the
	// daemon there, between ADD and the journal append.
	AfterAdd func(sandboxID string)
}

// Manager attaches pod network namespaces to the CNI network of ConfDir.
// It is safe for concurrent use; calls for one sandbox must not overlap
// (the sandbox aggregate holds the sandbox's lock around them).
type Manager struct {
	opts        Options
	log         *slog.Logger
	cni         *libcni.CNIConfig
	attachments attachmentStore

	mu       sync.RWMutex
	current  *netConfig // guarded by mu; nil while not ready
	notReady error      // guarded by mu; why current is nil
	podCIDRs []string   // guarded by mu; from UpdatePodCIDRs
	closed   bool       // guarded by mu

	cancel context.CancelFunc
	done   chan struct{} // closed when the watch goroutine returns
}

// New loads the first usable network of o.ConfDir and starts watching the
// directory (and the plugin directories), so a configuration dropped in
// later makes the node ready without a restart. Close stops the watching.
func New(o Options) (*Manager, error) {
	if !filepath.IsAbs(o.ConfDir) {
		return nil, fmt.Errorf("network: ConfDir %q is not absolute", o.ConfDir)
	}
	if len(o.BinDirs) == 0 {
		return nil, errors.New("network: no plugin directory (BinDirs)")
	}
	if !filepath.IsAbs(o.CacheDir) {
		return nil, fmt.Errorf("network: CacheDir %q is not absolute", o.CacheDir)
	}
	if err := os.MkdirAll(o.CacheDir, 0o700); err != nil {
		return nil, fmt.Errorf("network: %w", err)
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	stderr := o.PluginStderr
	if stderr == nil {
		stderr = io.Discard
	}
	exec := &pluginExec{stderr: stderr}
	m := &Manager{
		opts:        o,
		log:         log.With("component", "network"),
		cni:         libcni.NewCNIConfigWithCacheDir(o.BinDirs, o.CacheDir, exec),
		attachments: attachmentStore{dir: filepath.Join(o.CacheDir, "attachments")},
		done:        make(chan struct{}),
	}
	// Watch first, then load: a change made between the two is then seen
	// by the watcher rather than lost.
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("network: watch %s: %w", o.ConfDir, err)
	}
	for _, dir := range o.BinDirs {
		// A plugin directory that does not exist is simply not watched:
		// the search path commonly names a directory that is not there.
		_ = w.Add(dir)
	}
	watching := w.Add(o.ConfDir) == nil
	m.reload()
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	go m.watch(ctx, w, watching)
	return m, nil
}

// Close stops watching the configuration. Setup and Teardown keep working
// with the network last loaded; NetworkStatus keeps reporting it.
func (m *Manager) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	m.mu.Unlock()
	m.cancel()
	<-m.done
	return nil
}

// NetworkStatus is the runtime's NetworkReady condition: ready once a
// configuration is loadable, else the reason and a message naming the
// directory and what is wrong with each file in it.
func (m *Manager) NetworkStatus() (ready bool, reason, message string) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.current != nil {
		return true, "", ""
	}
	return false, NotReadyReason, m.notReady.Error()
}

// NetworkName is the name of the network pods are attached to, and the
// file it comes from; empty while not ready.
func (m *Manager) NetworkName() (name, file string) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.current == nil {
		return "", ""
	}
	return m.current.list.Name, m.current.file
}

// UpdatePodCIDRs records the node's pod CIDRs; pods attached from now on
// get them as the ipRanges capability (host-local with "capabilities":
// {"ipRanges": true} allocates from them).
func (m *Manager) UpdatePodCIDRs(ctx context.Context, cidrs []string) error {
	var clean []string
	for _, c := range cidrs {
		p, err := netip.ParsePrefix(c)
		if err != nil {
			return fmt.Errorf("%w: pod CIDR %q: %v", ErrInvalidPodConfig, c, err)
		}
		clean = append(clean, p.Masked().String())
	}
	m.mu.Lock()
	changed := !slices.Equal(m.podCIDRs, clean)
	m.podCIDRs = clean
	m.mu.Unlock()
	if changed {
		m.log.Info("pod CIDRs updated", "cidrs", clean)
	}
	return nil
}

// snapshot is the network and pod CIDRs one operation runs with.
func (m *Manager) snapshot() (*netConfig, []string, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.current == nil {
		return nil, nil, m.notReady
	}
	return m.current, slices.Clone(m.podCIDRs), nil
}

// reload loads the configuration directory again and logs what changed.
func (m *Manager) reload() {
	cfg, err := loadConfig(m.opts.ConfDir, m.opts.BinDirs)
	m.mu.Lock()
	prev, prevErr := m.current, m.notReady
	m.current, m.notReady = cfg, err
	m.mu.Unlock()
	switch {
	case cfg != nil && (prev == nil || prev.file != cfg.file || !slices.Equal(prev.list.Bytes, cfg.list.Bytes)):
		m.log.Info("CNI network loaded", "network", cfg.list.Name, "file", cfg.file, "plugins", pluginTypes(cfg))
	case cfg == nil && (prevErr == nil || prevErr.Error() != err.Error()):
		m.log.Warn("no CNI network: pods cannot be attached", "reason", err.Error())
	}
}

func pluginTypes(c *netConfig) []string {
	var types []string
	for _, p := range c.list.Plugins {
		types = append(types, p.Network.Type)
	}
	return types
}

// watch reloads the configuration on every change of the configuration
// directory or of a plugin directory (w watches them; watching says
// whether the configuration directory is among them), until ctx ends. While the
// configuration directory cannot be watched (missing, or removed while
// watched) it polls for it instead.
func (m *Manager) watch(ctx context.Context, w *fsnotify.Watcher, watching bool) {
	defer close(m.done)
	defer w.Close()
	poll := time.NewTicker(pollInterval)
	defer poll.Stop()
	if watching {
		poll.Stop()
	} else {
		m.log.Info("the CNI configuration directory cannot be watched (yet); polling it", "dir", m.opts.ConfDir)
	}
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-w.Events:
			if !ok {
				return
			}
			if ev.Name == m.opts.ConfDir && ev.Has(fsnotify.Remove|fsnotify.Rename) && watching {
				watching = false
				poll.Reset(pollInterval)
			}
			m.reload()
		case err, ok := <-w.Errors:
			if !ok {
				return
			}
			m.log.Warn("watching the CNI configuration", "error", err)
			m.reload()
		case <-poll.C:
			if !watching && w.Add(m.opts.ConfDir) == nil {
				watching = true
				poll.Stop()
			}
			m.reload()
		}
	}
}
