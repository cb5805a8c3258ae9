package network

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/containernetworking/cni/libcni"
	"github.com/logbook-cri/logbook/journal/events"
	"golang.org/x/sys/unix"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// checkSandboxID accepts what may name a CNI container ID, a cache file
// and an attachment record: letters, digits, '_', '.', '-', not starting
// with a punctuation mark (so no path separator and no "..").
func checkSandboxID(id string) error {
	ok := id != ""
	for i, c := range id {
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || c != '_' && c != '.' && c != '-') {
			ok = false
			break
		}
	}
	if !ok {
		return fmt.Errorf("%w: sandbox ID %q", ErrInvalidPodConfig, id)
	}
	return nil
}

// runtimeConf is the libcni form of the record's arguments.
func (a *attachment) runtimeConf(sandboxID string) *libcni.RuntimeConf {
	return &libcni.RuntimeConf{
		ContainerID:    sandboxID,
		NetNS:          a.NetNS,
		IfName:         a.IfName,
		Args:           a.Args,
		CapabilityArgs: a.CapabilityArgs,
	}
}

// Setup attaches the pod's network namespace nsPath to the network: it
// records the arguments, runs the chain's ADD, and returns the pod's IPs
// and the raw result for the journal. A failed ADD is undone with a DEL
// before Setup returns, so nothing leaks; if even that DEL fails, the
// record stays and Teardown retries it. A host-network pod is not
// attached: Setup returns nil.
func (m *Manager) Setup(ctx context.Context, sandboxID, nsPath string, config *runtimeapi.PodSandboxConfig) (*events.SandboxNetwork, error) {
	if hostNetwork(config) {
		return nil, nil
	}
	if err := checkSandboxID(sandboxID); err != nil {
		return nil, err
	}
	if nsPath == "" {
		return nil, fmt.Errorf("%w: sandbox %s has no network namespace", ErrInvalidPodConfig, sandboxID)
	}
	net, cidrs, err := m.snapshot()
	if err != nil {
		return nil, err
	}
	caps, err := capabilityArgs(config, cidrs)
	if err != nil {
		return nil, err
	}
	rec := &attachment{
		Network:        net.list.Name,
		File:           net.file,
		Config:         net.list.Bytes,
		NetNS:          nsPath,
		IfName:         IfName,
		Args:           cniArgs(sandboxID, config.GetMetadata()),
		CapabilityArgs: caps,
	}
	if err := m.attachments.put(sandboxID, rec); err != nil {
		return nil, fmt.Errorf("%w: record attachment of %s: %w", ErrSetup, sandboxID, err)
	}
	rt := rec.runtimeConf(sandboxID)
	res, err := m.cni.AddNetworkList(ctx, net.list, rt)
	if err != nil {
		return nil, m.undo(ctx, sandboxID, net.list, rt,
			fmt.Errorf("%w: sandbox %s, network %s: %w", ErrSetup, sandboxID, net.list.Name, err))
	}
	if m.opts.AfterAdd != nil {
		m.opts.AfterAdd(sandboxID)
	}
	primary, additional, err := podIPs(res, IfName)
	if err != nil {
		return nil, m.undo(ctx, sandboxID, net.list, rt,
			fmt.Errorf("%w: sandbox %s, network %s: %w", ErrSetup, sandboxID, net.list.Name, err))
	}
	raw, err := json.Marshal(res)
	if err != nil {
		return nil, m.undo(ctx, sandboxID, net.list, rt,
			fmt.Errorf("%w: sandbox %s: encode result: %v", ErrSetup, sandboxID, err))
	}
	return &events.SandboxNetwork{
		Ip:            primary,
		AdditionalIps: additional,
		CniResult:     raw,
		NetworkName:   net.list.Name,
	}, nil
}

// undo runs DEL after a failed ADD, even when the caller's context has
// ended (the plugins may have done half the work), and returns cause with
// the DEL's own failure, if any, joined to it.
func (m *Manager) undo(ctx context.Context, sandboxID string, list *libcni.NetworkConfigList, rt *libcni.RuntimeConf, cause error) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), DefaultUndoTimeout)
	defer cancel()
	if err := m.cni.DelNetworkList(ctx, list, rt); err != nil {
		m.log.Warn("DEL after a failed ADD failed; a later Teardown retries it", "sandbox", sandboxID, "error", err)
		return errors.Join(cause, fmt.Errorf("%w: undo: %v", ErrTeardown, err))
	}
	if err := m.attachments.remove(sandboxID); err != nil {
		m.log.Warn("forget attachment record", "sandbox", sandboxID, "error", err)
	}
	return cause
}

// Teardown detaches the sandbox from the network with the arguments of
// its ADD: those recorded before the ADD, else (the record was lost, or a
// DEL already succeeded) the current network's with prev, the journaled
// result, as the cached result the plugins are handed. It is idempotent:
// DEL of what is gone succeeds, and with neither a record nor prev there
// was never an ADD, so there is nothing to do. A netns that no longer
// exists is not passed to the plugins (they then release addresses and
// rules without touching interfaces).
func (m *Manager) Teardown(ctx context.Context, sandboxID, nsPath string, config *runtimeapi.PodSandboxConfig, prev *events.SandboxNetwork) error {
	if err := checkSandboxID(sandboxID); err != nil {
		return err
	}
	rec, err := m.attachments.get(sandboxID)
	if err != nil {
		m.log.Warn("unreadable attachment record; tearing down with the current network", "sandbox", sandboxID, "error", err)
		rec = nil
	}
	var list *libcni.NetworkConfigList
	var rt *libcni.RuntimeConf
	switch {
	case rec != nil:
		list, err = m.recordedConfig(rec)
		if err != nil {
			return fmt.Errorf("%w: sandbox %s: %v", ErrTeardown, sandboxID, err)
		}
		rt = rec.runtimeConf(sandboxID)
	case prev == nil || hostNetwork(config):
		return nil
	default:
		net, cidrs, err := m.snapshot()
		if err != nil {
			// Without a record a DEL already ran (or the root was
			// wiped); with no network either there is nothing left to
			// run it with.
			m.log.Warn("no attachment record and no network: nothing to tear down with", "sandbox", sandboxID, "reason", err)
			return nil
		}
		caps, err := capabilityArgs(config, cidrs)
		if err != nil {
			caps = nil // DEL must not fail on what ADD would have refused
		}
		list = net.list
		rt = (&attachment{IfName: IfName, Args: cniArgs(sandboxID, config.GetMetadata()), CapabilityArgs: caps}).runtimeConf(sandboxID)
	}
	if nsPath == "" && rec != nil {
		nsPath = rec.NetNS
	}
	rt.NetNS = liveNetNS(nsPath)
	if prev != nil && len(prev.CniResult) > 0 && (prev.NetworkName == "" || prev.NetworkName == list.Name) {
		if err := m.restoreCachedResult(list.Name, rt, prev.CniResult); err != nil {
			m.log.Warn("restore the journaled CNI result for DEL", "sandbox", sandboxID, "error", err)
		}
	}
	if ctx.Err() != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), DefaultUndoTimeout)
		defer cancel()
	}
	if err := m.cni.DelNetworkList(ctx, list, rt); err != nil {
		return fmt.Errorf("%w: sandbox %s, network %s: %w", ErrTeardown, sandboxID, list.Name, err)
	}
	if err := m.attachments.remove(sandboxID); err != nil {
		m.log.Warn("forget attachment record", "sandbox", sandboxID, "error", err)
	}
	return nil
}

// recordedConfig is the configuration the record's ADD ran with. A chain
// whose plugins lived in separate files (not in the recorded bytes) is
// read again from its file.
func (m *Manager) recordedConfig(rec *attachment) (*libcni.NetworkConfigList, error) {
	list, err := parseConfBytes(rec.Config)
	if err == nil && len(list.Plugins) > 0 {
		return list, nil
	}
	if rec.File != "" {
		if l, ferr := parseConfFile(rec.File); ferr == nil && l.Name == rec.Network {
			return l, nil
		}
	}
	if err == nil {
		err = errors.New("no plugins")
	}
	return nil, fmt.Errorf("recorded configuration of network %s: %w", rec.Network, err)
}

// restoreCachedResult puts the journaled result where libcni looks for a
// cached one, when the cache has none, so DEL hands the plugins the same
// prevResult as before the cache was lost. libcni reads a cache file that
// is a bare result as its original ("legacy") format.
func (m *Manager) restoreCachedResult(netName string, rt *libcni.RuntimeConf, raw []byte) error {
	path := filepath.Join(m.opts.CacheDir, "results", fmt.Sprintf("%s-%s-%s", netName, rt.ContainerID, rt.IfName))
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	if _, err := decodeResult(raw); err != nil {
		return fmt.Errorf("journaled result: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return os.WriteFile(path, raw, 0o600)
}

// liveNetNS returns path when it is a network namespace (a mounted nsfs
// file), else "": a namespace already removed is not the plugins' to
// enter.
func liveNetNS(path string) string {
	if path == "" {
		return ""
	}
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil || st.Type != unix.NSFS_MAGIC {
		return ""
	}
	return path
}
