package runc

import (
	"errors"
	"testing"
)

// TestClassify: runc's messages for an unknown or a stopped container
// match their sentinels; anything else matches neither.
func TestClassify(t *testing.T) {
	for _, c := range []struct {
		msg  string
		want error
	}{
		{"container does not exist", ErrNotFound},
		{"exec failed: container does not exist", ErrNotFound},
		{"container not running", ErrNotRunning},
		{"cannot start a container that has stopped", ErrNotRunning},
		{"invalid state transition from stopped to paused", ErrNotRunning},
		{"invalid state transition from running to created", nil},
		{"rootfs /x does not exist: no such file", nil},
		{"exit status 1", nil},
	} {
		err := &RuncError{Command: "kill", ID: "c1", Message: c.msg}
		for _, s := range []error{ErrNotFound, ErrNotRunning} {
			if got := errors.Is(err, s); got != (s == c.want) {
				t.Errorf("%q: errors.Is(%v) = %v", c.msg, s, got)
			}
		}
		if !errors.Is(err, ErrRuncFailed) {
			t.Errorf("%q: not ErrRuncFailed", c.msg)
		}
	}
}
