package network

import (
	"fmt"
	"net/netip"

	"github.com/containernetworking/cni/pkg/types"
	"github.com/containernetworking/cni/pkg/types/create"
	types100 "github.com/containernetworking/cni/pkg/types/100"
)

// decodeResult reads a result as a plugin chain printed it (any CNI
// version the result says it is).
func decodeResult(raw []byte) (types.Result, error) {
	return create.CreateFromBytes(raw)
}

// podIPs picks the pod's addresses out of a chain's result: the addresses
// of the interface ifName inside the pod's namespace (an IP whose interface
// is not named counts too: older plugins leave it out), IPv4 before IPv6,
// each family in the result's order, without duplicates. The first is the
// pod's primary IP; CRI reports the rest as additional IPs.
func podIPs(res types.Result, ifName string) (primary string, additional []string, err error) {
	r, err := types100.NewResultFromResult(res)
	if err != nil {
		return "", nil, fmt.Errorf("convert CNI result: %w", err)
	}
	var v4, v6 []string
	seen := map[netip.Addr]bool{}
	for _, ipc := range r.IPs {
		if ipc == nil || !onPodInterface(r, ipc, ifName) {
			continue
		}
		addr, ok := netip.AddrFromSlice(ipc.Address.IP)
		if !ok {
			continue
		}
		addr = addr.Unmap()
		if !addr.IsValid() || addr.IsUnspecified() || seen[addr] {
			continue
		}
		seen[addr] = true
		if addr.Is4() {
			v4 = append(v4, addr.String())
		} else {
			v6 = append(v6, addr.String())
		}
	}
	all := append(v4, v6...)
	if len(all) == 0 {
		return "", nil, fmt.Errorf("%w %s", ErrNoIP, ifName)
	}
	return all[0], all[1:], nil
}

// onPodInterface: the IP names no interface, or names ifName inside a
// namespace (a bridge's own address on the host side is not the pod's).
func onPodInterface(r *types100.Result, ipc *types100.IPConfig, ifName string) bool {
	if ipc.Interface == nil {
		return true
	}
	i := *ipc.Interface
	if i < 0 || i >= len(r.Interfaces) || r.Interfaces[i] == nil {
		return false
	}
	iface := r.Interfaces[i]
	return iface.Name == ifName && iface.Sandbox != ""
}
