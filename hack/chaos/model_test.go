package main

import (
	"strings"
	"testing"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func exited(code int32, reason string) *runtimeapi.ContainerStatus {
	return &runtimeapi.ContainerStatus{State: runtimeapi.ContainerState_CONTAINER_EXITED, ExitCode: code, Reason: reason, StartedAt: 1, FinishedAt: 2}
}

func state(s runtimeapi.ContainerState) *runtimeapi.ContainerStatus {
	return &runtimeapi.ContainerStatus{State: s}
}

func TestJudgeContainer(t *testing.T) {
	const (
		created = runtimeapi.ContainerState_CONTAINER_CREATED
		running = runtimeapi.ContainerState_CONTAINER_RUNNING
	)
	cases := []struct {
		name    string
		c       ctr
		pod     pod
		st      *runtimeapi.ContainerStatus
		problem string // substring; "" for none
		pending bool   // not settled
	}{
		{name: "created, never started", c: ctr{created: done}, st: state(created)},
		{name: "created after a start returned", c: ctr{created: done, started: done}, st: state(created), problem: "CREATED after StartContainer"},
		{name: "created after a cut start", c: ctr{created: done, started: maybe}, st: state(created)},
		{name: "running long", c: ctr{kind: long, created: done, started: done}, st: state(running)},
		{name: "running never started", c: ctr{kind: long, created: done}, st: state(running), problem: "never started"},
		{name: "running after stop", c: ctr{kind: long, created: done, started: done, stopped: done}, st: state(running), problem: "after a stop"},
		{name: "running after pod stop", c: ctr{kind: long, created: done, started: done}, pod: pod{stopped: done}, st: state(running), problem: "after a stop"},
		{name: "running while a stop was cut", c: ctr{kind: long, created: done, started: done, stopped: maybe}, st: state(running)},
		{name: "quick still running", c: ctr{kind: quick, code: 3, created: done, started: done}, st: state(running), problem: "exits with 3", pending: true},
		{name: "triggered still running", c: ctr{kind: onCue, code: 3, created: done, started: done, fired: true}, st: state(running), problem: "after its trigger", pending: true},
		{name: "quick exit right", c: ctr{kind: quick, code: 3, created: done, started: done}, st: exited(3, "Error")},
		{name: "quick exit 0 completed", c: ctr{kind: quick, code: 0, created: done, started: done}, st: exited(0, "Completed")},
		{name: "quick exit 0 wrong reason", c: ctr{kind: quick, code: 0, created: done, started: done}, st: exited(0, "Error"), problem: "want one of"},
		{name: "quick wrong code", c: ctr{kind: quick, code: 3, created: done, started: done}, st: exited(4, "Error"), problem: "want one of"},
		{name: "cue exit while down", c: ctr{kind: onCue, code: 42, created: done, started: done, fired: true, firedDown: true}, st: exited(42, "Error")},
		{name: "cue exit without cue", c: ctr{kind: onCue, code: 42, created: done, started: done}, st: exited(42, "Error"), problem: "nothing ended it"},
		{name: "oom", c: ctr{kind: oomOnCue, created: done, started: done, fired: true}, st: exited(137, "OOMKilled")},
		{name: "oom misreported", c: ctr{kind: oomOnCue, created: done, started: done, fired: true}, st: exited(137, "Error"), problem: "want one of"},
		{name: "long stopped", c: ctr{kind: long, created: done, started: done, stopped: done}, st: exited(137, "Error")},
		{name: "long killed by pod stop", c: ctr{kind: long, created: done, started: done}, pod: pod{stopped: maybe}, st: exited(137, "Error")},
		{name: "long exited on its own", c: ctr{kind: long, created: done, started: done}, st: exited(137, "Error"), problem: "nothing ended it"},
		{name: "cue fired and stopped: either", c: ctr{kind: onCue, code: 5, created: done, started: done, fired: true, stopped: done}, st: exited(5, "Error")},
		{name: "unknown exit", c: ctr{kind: long, created: done, started: done, stopped: done}, st: exited(255, "Unknown"), problem: "unknown exit"},
		{name: "finished before start", c: ctr{kind: quick, created: done, started: done},
			st: &runtimeapi.ContainerStatus{State: runtimeapi.ContainerState_CONTAINER_EXITED, StartedAt: 5, FinishedAt: 4}, problem: "before it started"},
		{name: "gone after removal", c: ctr{created: done, removed: done}},
		{name: "gone after a cut create", c: ctr{created: maybe}},
		{name: "gone after pod removal", c: ctr{created: done}, pod: pod{removed: maybe}},
		{name: "vanished", c: ctr{created: done, started: done}, problem: "vanished"},
		{name: "present after removal", c: ctr{created: done, removed: done}, st: state(created), problem: "after its removal"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, p := tc.c, tc.pod
			c.pod = &p
			problem, settled := c.judge(tc.st)
			if tc.problem == "" && problem != "" || tc.problem != "" && !strings.Contains(problem, tc.problem) {
				t.Errorf("problem %q, want %q", problem, tc.problem)
			}
			if settled == tc.pending {
				t.Errorf("settled %v, want %v", settled, !tc.pending)
			}
		})
	}
}

func TestJudgePod(t *testing.T) {
	ready := &runtimeapi.PodSandbox{State: runtimeapi.PodSandboxState_SANDBOX_READY}
	notReady := &runtimeapi.PodSandbox{State: runtimeapi.PodSandboxState_SANDBOX_NOTREADY}
	cases := []struct {
		name    string
		p       pod
		st      *runtimeapi.PodSandbox
		problem string
	}{
		{"ready", pod{run: done}, ready, ""},
		{"ready after stop", pod{run: done, stopped: done}, ready, "READY after"},
		{"ready, stop cut", pod{run: done, stopped: maybe}, ready, ""},
		{"not ready, never stopped", pod{run: done}, notReady, "nothing stopped it"},
		{"not ready after stop", pod{run: done, stopped: done}, notReady, ""},
		{"gone after a cut run", pod{run: maybe}, nil, ""},
		{"gone after a cut removal", pod{run: done, removed: maybe}, nil, ""},
		{"vanished", pod{run: done}, nil, "vanished"},
		{"present after removal", pod{run: done, removed: done}, notReady, "still there"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.p.judge(tc.st)
			if tc.problem == "" && got != "" || tc.problem != "" && !strings.Contains(got, tc.problem) {
				t.Errorf("problem %q, want %q", got, tc.problem)
			}
		})
	}
}

func TestJudgeImage(t *testing.T) {
	cases := []struct {
		present outcome
		listed  bool
		problem string
	}{
		{done, true, ""},
		{done, false, "not listed"},
		{notAsked, false, ""},
		{notAsked, true, "listed though"},
		{maybe, true, ""},
		{maybe, false, ""},
	}
	for _, tc := range cases {
		i := &img{ref: "x", present: tc.present}
		got := i.judge(tc.listed)
		if tc.problem == "" && got != "" || tc.problem != "" && !strings.Contains(got, tc.problem) {
			t.Errorf("present %v, listed %v: %q, want %q", tc.present, tc.listed, got, tc.problem)
		}
	}
}
