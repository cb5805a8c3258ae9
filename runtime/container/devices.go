package container

import (
	"fmt"
	"io/fs"
	"path/filepath"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/logbook-cri/logbook/runtime"
	"github.com/logbook-cri/logbook/runtime/oci"
)

// resolveDevices finds the device nodes behind each CRI device, for
// oci.ContainerInput.Devices: the node a host_path names (symlinks
// resolved), or every node below it when it is a directory, each with its
// Path under the host_path as given.
func resolveDevices(devs []*runtimeapi.Device) (map[string][]oci.HostDevice, error) {
	if len(devs) == 0 {
		return nil, nil
	}
	out := make(map[string][]oci.HostDevice, len(devs))
	for i, d := range devs {
		hp := d.GetHostPath()
		real, err := filepath.EvalSymlinks(hp)
		if err != nil {
			return nil, fmt.Errorf("%w: devices[%d].host_path %q: %w", runtime.ErrInvalidArgument, i, hp, err)
		}
		if dev, ok := runtime.DeviceAt(real); ok {
			dev.Path = hp
			out[hp] = []oci.HostDevice{dev}
			continue
		}
		var found []oci.HostDevice
		err = filepath.WalkDir(real, func(p string, e fs.DirEntry, err error) error {
			if err != nil || e.IsDir() {
				return nil
			}
			if dev, ok := runtime.DeviceAt(p); ok {
				rel, _ := filepath.Rel(real, p)
				dev.Path = filepath.Join(hp, rel)
				found = append(found, dev)
			}
			return nil
		})
		if err != nil || len(found) == 0 {
			return nil, fmt.Errorf("%w: devices[%d].host_path %q is not a device or a directory of devices", runtime.ErrInvalidArgument, i, hp)
		}
		out[hp] = found
	}
	return out, nil
}
