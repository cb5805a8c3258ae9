package oci

import (
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func TestCapabilities(t *testing.T) {
	def := DefaultCapabilities()
	without := func(list []string, drop ...string) []string {
		return slices.DeleteFunc(slices.Clone(list), func(c string) bool { return slices.Contains(drop, c) })
	}
	with := func(list []string, add ...string) []string { return sortCaps(append(slices.Clone(list), add...)) }
	all := AllCapabilities()
	for _, tc := range []struct {
		name       string
		caps       *runtimeapi.Capability
		privileged bool
		host       Host
		bounding   []string
		ambient    []string
		err        error
	}{
		{name: "default set", bounding: def},
		{name: "critest add NET_ADMIN", caps: &runtimeapi.Capability{AddCapabilities: []string{"NET_ADMIN"}}, bounding: with(def, "CAP_NET_ADMIN")},
		{name: "critest drop NET_RAW", caps: &runtimeapi.Capability{DropCapabilities: []string{"NET_RAW"}}, bounding: without(def, "CAP_NET_RAW")},
		{name: "critest add ALL", caps: &runtimeapi.Capability{AddCapabilities: []string{"ALL"}}, bounding: all},
		{name: "critest drop ALL", caps: &runtimeapi.Capability{DropCapabilities: []string{"ALL"}}, bounding: nil},
		{name: "drop ALL then add some", caps: &runtimeapi.Capability{DropCapabilities: []string{"ALL"}, AddCapabilities: []string{"KILL", "chown"}},
			bounding: []string{"CAP_CHOWN", "CAP_KILL"}},
		{name: "add ALL drop one", caps: &runtimeapi.Capability{AddCapabilities: []string{"all"}, DropCapabilities: []string{"CAP_SYS_ADMIN"}},
			bounding: without(all, "CAP_SYS_ADMIN")},
		{name: "drop wins over add", caps: &runtimeapi.Capability{AddCapabilities: []string{"SYS_TIME"}, DropCapabilities: []string{"SYS_TIME"}}, bounding: def},
		{name: "ambient joins every set", caps: &runtimeapi.Capability{AddAmbientCapabilities: []string{"NET_BIND_SERVICE", "SYS_NICE"}},
			bounding: with(def, "CAP_SYS_NICE"), ambient: []string{"CAP_NET_BIND_SERVICE", "CAP_SYS_NICE"}},
		{name: "dropped ambient is dropped", caps: &runtimeapi.Capability{AddAmbientCapabilities: []string{"SYS_NICE"}, DropCapabilities: []string{"SYS_NICE"}}, bounding: def},
		{name: "privileged gets all, requests ignored", privileged: true, caps: &runtimeapi.Capability{DropCapabilities: []string{"ALL"}}, bounding: all},
		{name: "privileged gets the host's list", privileged: true, host: Host{Capabilities: []string{"CAP_KILL", "CAP_CHOWN"}}, bounding: []string{"CAP_CHOWN", "CAP_KILL"}},
		{name: "unknown capability", caps: &runtimeapi.Capability{AddCapabilities: []string{"FLY"}}, err: ErrInvalid},
		{name: "unknown drop", caps: &runtimeapi.Capability{DropCapabilities: []string{"CAP_"}}, err: ErrInvalid},
		{name: "ambient ALL", caps: &runtimeapi.Capability{AddAmbientCapabilities: []string{"ALL"}}, err: ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Capabilities(tc.caps, tc.privileged, tc.host)
			wantErr(t, err, tc.err)
			if tc.err != nil {
				return
			}
			for set, list := range map[string][]string{"bounding": got.Bounding, "effective": got.Effective, "permitted": got.Permitted} {
				if !slices.Equal(list, tc.bounding) {
					t.Errorf("%s = %q, want %q", set, list, tc.bounding)
				}
			}
			if !slices.Equal(got.Ambient, tc.ambient) || !slices.Equal(got.Inheritable, tc.ambient) {
				t.Errorf("ambient %q inheritable %q, want %q", got.Ambient, got.Inheritable, tc.ambient)
			}
		})
	}
	if slices.Contains(def, "CAP_NET_ADMIN") || slices.Contains(def, "CAP_SYS_ADMIN") || !slices.Contains(def, "CAP_NET_RAW") || len(def) != 14 {
		t.Fatalf("default set %q", def)
	}
}

func TestContainerCapabilitiesInSpec(t *testing.T) {
	in := testContainerInput()
	sc(&in).Capabilities = &runtimeapi.Capability{AddCapabilities: []string{"NET_ADMIN"}}
	s, _ := mustContainer(t, in)
	want, _ := Capabilities(sc(&in).Capabilities, false, in.Host)
	jsonEqual(t, s.Process.Capabilities, want)

	podSC(in.Sandbox).Privileged = true
	sc(&in).Privileged = true
	s, _ = mustContainer(t, in)
	jsonEqual(t, s.Process.Capabilities, &specs.LinuxCapabilities{Bounding: AllCapabilities(), Effective: AllCapabilities(), Permitted: AllCapabilities()})
}
