package oci

import (
	"strings"
	"syscall"
	"testing"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func TestParseSignal(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want syscall.Signal
		err  error
	}{
		{"", syscall.SIGTERM, nil},
		{"SIGTERM", syscall.SIGTERM, nil},
		{"TERM", syscall.SIGTERM, nil},
		{"15", syscall.SIGTERM, nil},
		{"sigquit", syscall.SIGQUIT, nil},
		{" SIGINT ", syscall.SIGINT, nil},
		{"9", syscall.SIGKILL, nil},
		{"SIGWINCH", syscall.SIGWINCH, nil},
		{"SIGPOLL", syscall.SIGIO, nil},
		{"SIGCLD", syscall.SIGCHLD, nil},
		{"SIGRTMIN", syscall.Signal(34), nil},
		{"SIGRTMIN+3", syscall.Signal(37), nil},
		{"RTMAX-1", syscall.Signal(63), nil},
		{"SIGRTMAX", syscall.Signal(64), nil},
		{"64", syscall.Signal(64), nil},
		{"0", 0, ErrInvalid},
		{"65", 0, ErrInvalid},
		{"-1", 0, ErrInvalid},
		{"SIGRTMIN+31", 0, ErrInvalid},
		{"SIGRTMIN-1", 0, ErrInvalid},
		{"SIGRTMIN+", 0, ErrInvalid},
		{"SIGRTMIN++1", 0, ErrInvalid},
		{"SIGFOO", 0, ErrInvalid},
	} {
		got, err := ParseSignal(tc.in)
		wantErr(t, err, tc.err)
		if got != tc.want {
			t.Errorf("ParseSignal(%q) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

func TestStopSignal(t *testing.T) {
	for _, tc := range []struct {
		cri   runtimeapi.Signal
		image string
		want  syscall.Signal
		err   error
	}{
		{runtimeapi.Signal_SIGNAL_RUNTIME_DEFAULT, "", syscall.SIGTERM, nil},
		{runtimeapi.Signal_SIGNAL_RUNTIME_DEFAULT, "SIGQUIT", syscall.SIGQUIT, nil},
		{runtimeapi.Signal_SIGNAL_SIGUSR1, "SIGQUIT", syscall.SIGUSR1, nil},
		{runtimeapi.Signal_SIGNAL_SIGKILL, "", syscall.SIGKILL, nil},
		{runtimeapi.Signal_SIGNAL_SIGRTMINPLUS4, "", syscall.Signal(38), nil},
		{runtimeapi.Signal_SIGNAL_SIGRTMAXMINUS2, "", syscall.Signal(62), nil},
		{runtimeapi.Signal_SIGNAL_SIGRTMAX, "", syscall.Signal(64), nil},
		{runtimeapi.Signal_SIGNAL_SIGIOT, "", syscall.SIGABRT, nil},
		{runtimeapi.Signal_SIGNAL_RUNTIME_DEFAULT, "SIGNOPE", 0, ErrInvalid},
		{runtimeapi.Signal(999), "", 0, ErrInvalid},
	} {
		got, err := StopSignal(tc.cri, tc.image)
		wantErr(t, err, tc.err)
		if got != tc.want {
			t.Errorf("StopSignal(%v, %q) = %d, want %d", tc.cri, tc.image, got, tc.want)
		}
	}
	// Every CRI signal maps to a signal.
	for v, name := range runtimeapi.Signal_name {
		if v == 0 {
			continue
		}
		if sig, err := StopSignal(runtimeapi.Signal(v), ""); err != nil || sig < 1 || sig > 64 {
			t.Errorf("%s -> %d, %v", name, sig, err)
		}
	}
}
