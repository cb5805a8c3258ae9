package oci

import (
	"testing"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func TestAppArmorProfile(t *testing.T) {
	withAA := Host{AppArmor: true, AppArmorDefaultProfile: "logbook-default"}
	localhost := &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Localhost, LocalhostRef: "localhost/cri-validate-apparmor-test-deny-write"}
	for _, tc := range []struct {
		name       string
		sp         *runtimeapi.SecurityProfile
		legacy     string
		privileged bool
		host       Host
		want       string
		err        error
	}{
		{name: "no AppArmor, nothing asked", want: ""},
		{name: "no AppArmor, runtime default", sp: &runtimeapi.SecurityProfile{}, want: ""},
		{name: "no AppArmor, unconfined", sp: &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Unconfined}, want: ""},
		{name: "no AppArmor, legacy runtime/default", legacy: "runtime/default", want: ""},
		{name: "no AppArmor, localhost is unsupported", sp: localhost, err: ErrUnsupported},
		{name: "no AppArmor, legacy localhost is unsupported", legacy: "localhost/p", err: ErrUnsupported},
		{name: "no AppArmor, privileged ignores the request", sp: localhost, privileged: true, want: ""},
		{name: "AppArmor, nothing asked: default", host: withAA, want: "logbook-default"},
		{name: "AppArmor, runtime default", host: withAA, sp: &runtimeapi.SecurityProfile{}, want: "logbook-default"},
		{name: "AppArmor, unconfined", host: withAA, legacy: "unconfined", want: ""},
		{name: "AppArmor, localhost strips the prefix", host: withAA, sp: localhost, want: "cri-validate-apparmor-test-deny-write"},
		{name: "AppArmor, localhost ref without prefix", host: withAA, sp: &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Localhost, LocalhostRef: "p"}, want: "p"},
		{name: "AppArmor, new field wins over legacy", host: withAA, sp: localhost, legacy: "unconfined", want: "cri-validate-apparmor-test-deny-write"},
		{name: "AppArmor, legacy localhost", host: withAA, legacy: "localhost/p2", want: "p2"},
		{name: "AppArmor, privileged is unconfined", host: withAA, privileged: true, want: ""},
		{name: "empty localhost ref", sp: &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Localhost}, err: ErrInvalid},
		{name: "legacy garbage", legacy: "enforce", err: ErrInvalid},
		{name: "legacy localhost without a name", legacy: "localhost/", err: ErrInvalid},
		{name: "unknown type", sp: &runtimeapi.SecurityProfile{ProfileType: 5}, err: ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := AppArmorProfile(tc.sp, tc.legacy, tc.privileged, tc.host)
			wantErr(t, err, tc.err)
			if got != tc.want {
				t.Fatalf("profile = %q, want %q", got, tc.want)
			}
		})
	}

	in := testContainerInput()
	in.Host.AppArmor, in.Host.AppArmorDefaultProfile = true, "logbook-default"
	s, _ := mustContainer(t, in)
	if s.Process.ApparmorProfile != "logbook-default" {
		t.Fatalf("spec apparmor profile = %q", s.Process.ApparmorProfile)
	}
}
