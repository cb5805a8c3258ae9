package runtime

import (
	"fmt"
	"io"
	"os"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/logbook-cri/logbook/runtime/oci"
)

// maxSeccompProfile bounds a Localhost seccomp profile read from the node.
const maxSeccompProfile = 4 << 20

// SeccompProfiles reads the Localhost seccomp profile a security context
// names, if any, for oci.SandboxInput and oci.ContainerInput: a map from
// the path as the request spells it to the file's content. A privileged
// process gets no filter, so its profile is not read. A profile that
// cannot be read is the request's error (ErrInvalidArgument).
func SeccompProfiles(sp *runtimeapi.SecurityProfile, legacyPath, field string, privileged bool) (map[string][]byte, error) {
	if privileged {
		return nil, nil
	}
	kind, ref, err := oci.ResolveSeccomp(sp, legacyPath, field)
	if err != nil || kind != oci.SeccompLocalhost {
		return nil, err
	}
	f, err := os.Open(ref)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: seccomp profile: %w", ErrInvalidArgument, field, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxSeccompProfile+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: seccomp profile %s: %w", ErrInvalidArgument, field, ref, err)
	}
	if len(data) > maxSeccompProfile {
		return nil, fmt.Errorf("%w: %s: seccomp profile %s is larger than %d bytes", ErrInvalidArgument, field, ref, maxSeccompProfile)
	}
	return map[string][]byte{ref: data}, nil
}
