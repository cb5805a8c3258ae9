package daemon

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/logbook-cri/logbook/config"
	"github.com/logbook-cri/logbook/criserver"
	"github.com/logbook-cri/logbook/network"
	"github.com/logbook-cri/logbook/runtime/sandbox"
)

// CrashPointEnv names a fault-injection point for crash tests, read once
// at start. At the point it names the daemon SIGKILLs itself, exactly as
// an operator's kill -9 or an OOM kill would end it. Unset (as it always
// is outside tests) nothing happens. The points:
//
//	network-after-add   after CNI ADD succeeded, before the sandbox
//	                    journals the result (package network, AfterAdd)
const CrashPointEnv = "LOGBOOK_CRASH_POINT"

// CrashAfterCNIAdd is the crash point between CNI ADD and the journal.
const CrashAfterCNIAdd = "network-after-add"

// The Manager is both the sandbox aggregate's network hook and the CRI
// services' view of the network (Status, UpdateRuntimeConfig).
var (
	_ sandbox.Network   = (*network.Manager)(nil)
	_ criserver.Network = (*network.Manager)(nil)
)

// cniCacheDir is under the root, never libcni's default /var/lib/cni, so
// two daemons never read each other's results.
func cniCacheDir(cfg *config.Config) string { return filepath.Join(cfg.Root, "cni") }

// startNetwork builds the pod network: the CNI configuration of
// cni-conf-dir with the plugins of cni-bin-dir, watched from now until the
// Manager is closed. No loadable configuration is not an error: the
// daemon serves, reporting NetworkReady=false, until one appears.
func startNetwork(cfg *config.Config, log *slog.Logger) (*network.Manager, error) {
	o := network.Options{
		ConfDir:      cfg.CNIConfDir,
		BinDirs:      cfg.CNIBinDirs(),
		CacheDir:     cniCacheDir(cfg),
		Logger:       log,
		PluginStderr: logWriter{log: log, msg: "CNI plugin stderr"},
	}
	if point := os.Getenv(CrashPointEnv); point != "" {
		log.Warn("fault injection armed: the daemon will kill itself", "env", CrashPointEnv, "point", point)
		if point == CrashAfterCNIAdd {
			o.AfterAdd = func(sandboxID string) {
				log.Error("crash point reached: SIGKILL", "point", point, "sandbox", sandboxID)
				_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
				select {} // the signal is on its way; nothing after this point runs
			}
		}
	}
	m, err := network.New(o)
	if err != nil {
		return nil, err
	}
	if ready, _, msg := m.NetworkStatus(); !ready {
		log.Warn("pod network not ready", "reason", msg)
	}
	return m, nil
}

// logWriter turns a child's stderr into debug log lines.
type logWriter struct {
	log *slog.Logger
	msg string
}

func (w logWriter) Write(p []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		if line != "" {
			w.log.Log(context.Background(), slog.LevelDebug, w.msg, "line", line)
		}
	}
	return len(p), nil
}
