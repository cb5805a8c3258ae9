package projector

import (
	"testing"

	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/logbook-cri/logbook/journal/events"
)

// TestContainerCreatedUser: the user resolved once the rootfs is mounted
// (container.created) replaces the one container.creating carried; a
// container.created without one keeps it.
func TestContainerCreatedUser(t *testing.T) {
	f := newFixture(t)
	f.sandboxIn("sb", SandboxReady)
	cr := containerCreating("c1")
	cr.User = &runtimeapi.ContainerUser{Linux: &runtimeapi.LinuxContainerUser{Uid: 1, Gid: 1}}
	f.must("sb", "c1", cr)
	resolved := &runtimeapi.ContainerUser{Linux: &runtimeapi.LinuxContainerUser{Uid: 1000, Gid: 1000, SupplementalGroups: []int64{1000, 50000}}}
	f.must("", "c1", &events.ContainerCreated{Pid: 7, User: resolved})
	c, _ := f.s.Container("c1")
	if !proto.Equal(c.User, resolved) || !proto.Equal(c.CRIStatus().GetUser(), resolved) {
		t.Fatalf("user %v, want the created event's %v", c.User, resolved)
	}

	cr2 := containerCreating("c2")
	cr2.Config.Metadata = &runtimeapi.ContainerMetadata{Name: "other"}
	cr2.User = &runtimeapi.ContainerUser{Linux: &runtimeapi.LinuxContainerUser{Uid: 5, Gid: 6}}
	f.must("sb", "c2", cr2)
	f.must("", "c2", &events.ContainerCreated{Pid: 8})
	if c, _ := f.s.Container("c2"); !proto.Equal(c.User, cr2.User) {
		t.Fatalf("user %v, want the creating event's %v", c.User, cr2.User)
	}
}
