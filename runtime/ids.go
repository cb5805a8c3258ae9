package runtime

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// NewID returns a fresh sandbox or container ID: 64 lowercase hex digits,
// like every CRI runtime's, so IDs are safe as path elements and prefixes
// are unambiguous in practice.
func NewID() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on Linux
	return hex.EncodeToString(b[:])
}

// SandboxName is the reserved name of a sandbox: its metadata, which the
// CRI makes unique among live sandboxes.
func SandboxName(m *runtimeapi.PodSandboxMetadata) string {
	return fmt.Sprintf("%s_%s_%s_%d", m.GetName(), m.GetNamespace(), m.GetUid(), m.GetAttempt())
}

// ContainerName is the reserved name of a container: its metadata within
// its sandbox's.
func ContainerName(sandbox *runtimeapi.PodSandboxMetadata, m *runtimeapi.ContainerMetadata) string {
	return fmt.Sprintf("%s_%s_%d", m.GetName(), SandboxName(sandbox), m.GetAttempt())
}
