package network

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/invoke"
)

// confExtensions are the file names CNI configurations have; .conflist is
// a plugin chain, the others a single plugin.
func confExtensions() []string { return []string{".conflist", ".conf", ".json"} }

// netConfig is the network pods are attached to: one configuration file,
// parsed.
type netConfig struct {
	file string
	list *libcni.NetworkConfigList
}

// loadConfig picks the network from dir: the first file in lexical order
// that parses, is more than a lone loopback, and whose plugins are all
// found in binDirs. When none is, the error (wrapping ErrNotReady) names
// the directory and why each file was passed over, for NetworkStatus.
func loadConfig(dir string, binDirs []string) (*netConfig, error) {
	files, err := libcni.ConfFiles(dir, confExtensions())
	if err != nil {
		return nil, fmt.Errorf("%w: read CNI config directory %s: %v", ErrNotReady, dir, err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%w: no CNI network configuration in %s", ErrNotReady, dir)
	}
	sort.Strings(files)
	var reasons []string
	for _, f := range files {
		list, err := parseConfFile(f)
		if err == nil {
			err = checkPlugins(list, binDirs)
		}
		if err != nil {
			reasons = append(reasons, filepath.Base(f)+": "+err.Error())
			continue
		}
		return &netConfig{file: f, list: list}, nil
	}
	return nil, fmt.Errorf("%w: no loadable CNI network configuration in %s: %s",
		ErrNotReady, dir, strings.Join(reasons, "; "))
}

// parseConfFile reads a .conflist as a chain and a single-plugin file as a
// chain of one.
func parseConfFile(path string) (*libcni.NetworkConfigList, error) {
	if filepath.Ext(path) == ".conflist" {
		return libcni.NetworkConfFromFile(path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseSingleConf(b)
}

func parseSingleConf(b []byte) (*libcni.NetworkConfigList, error) {
	conf, err := libcni.NetworkPluginConfFromBytes(b)
	if err != nil {
		return nil, err
	}
	return libcni.ConfListFromConf(conf)
}

// parseConfBytes parses a configuration as recorded at ADD: a chain, or a
// single plugin (a chain's bytes always carry "plugins").
func parseConfBytes(b []byte) (*libcni.NetworkConfigList, error) {
	list, err := libcni.NetworkConfFromBytes(b)
	if err == nil {
		return list, nil
	}
	if single, err2 := parseSingleConf(b); err2 == nil {
		return single, nil
	}
	return nil, err
}

// checkPlugins refuses a chain that cannot run: a plugin missing from
// binDirs, or a lone loopback (the sandbox brings lo up itself, and a pod
// needs more than lo).
func checkPlugins(list *libcni.NetworkConfigList, binDirs []string) error {
	if len(list.Plugins) == 1 && list.Plugins[0].Network.Type == "loopback" {
		return errors.New("only the loopback plugin: logbook brings lo up itself and needs a network for eth0")
	}
	for _, p := range list.Plugins {
		if _, err := invoke.FindInPath(p.Network.Type, binDirs); err != nil {
			return fmt.Errorf("plugin %q not found in %s", p.Network.Type, strings.Join(binDirs, ":"))
		}
	}
	return nil
}
