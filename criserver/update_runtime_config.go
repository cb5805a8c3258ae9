package criserver

import (
	"context"
	"net/netip"
	"strings"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// UpdateRuntimeConfig takes the node's pod CIDRs from the kubelet (comma
// separated, one per IP family), hands them to the network and records them
// (verbose Status shows them). An empty pod_cidr changes nothing.
func (s *RuntimeService) UpdateRuntimeConfig(ctx context.Context, req *runtimeapi.UpdateRuntimeConfigRequest) (*runtimeapi.UpdateRuntimeConfigResponse, error) {
	if err := require(present("request", req != nil), present("runtime_config", req.GetRuntimeConfig() != nil)); err != nil {
		return nil, err
	}
	cidrs, err := parsePodCIDRs(req.GetRuntimeConfig().GetNetworkConfig().GetPodCidr())
	if err != nil || len(cidrs) == 0 {
		return &runtimeapi.UpdateRuntimeConfigResponse{}, err
	}
	if err := s.deps.Network.UpdatePodCIDRs(ctx, cidrs); err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.podCIDRs = cidrs
	s.mu.Unlock()
	return &runtimeapi.UpdateRuntimeConfigResponse{}, nil
}

// parsePodCIDRs splits and checks "10.88.0.0/16,fd00::/64".
func parsePodCIDRs(s string) ([]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var cidrs []string
	for _, part := range strings.Split(s, ",") {
		p, err := netip.ParsePrefix(strings.TrimSpace(part))
		if err != nil {
			return nil, invalidField("runtime_config.network_config.pod_cidr", "%q is not a CIDR", part)
		}
		cidrs = append(cidrs, p.Masked().String())
	}
	return cidrs, nil
}
