package main

import (
	"fmt"
	"slices"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// outcome is what the driver knows of a call: never made, made but cut by
// the daemon's death (it may or may not have taken effect), or returned
// success.
type outcome uint8

const (
	notAsked outcome = iota
	maybe
	done
)

// kind is what a container does on its own.
type kind uint8

const (
	// long sleeps until stopped.
	long kind = iota
	// onCue exits with code once the driver writes its trigger FIFO.
	onCue
	// oomOnCue allocates past its memory limit once triggered.
	oomOnCue
	// quick exits with code a fraction of a second after it starts.
	quick
)

func (k kind) String() string {
	return [...]string{"long", "cue", "oom", "quick"}[k]
}

// ctr is the driver's model of a container.
type ctr struct {
	id, name string
	pod      *pod
	kind     kind
	code     int32  // onCue, quick
	fifo     string // onCue, oomOnCue: the trigger's host path
	created  outcome
	started  outcome
	stopped  outcome
	removed  outcome
	fired    bool // the container read its trigger
	// firedDown: it was triggered while the daemon was down.
	firedDown bool
}

// pod is the driver's model of a pod sandbox.
type pod struct {
	id, name string
	run      outcome
	stopped  outcome
	removed  outcome
	ctrs     []*ctr
	busy     bool // a worker is calling on it (or on one of its containers)
}

// img is the driver's model of an image it pulls and removes.
type img struct {
	ref string
	// present: pulled (done), removed or never pulled (notAsked), or
	// unknown (maybe: a pull or a removal was cut).
	present outcome
	busy    bool
}

// judge compares the image's presence in ListImages with the model.
func (i *img) judge(listed bool) string {
	switch {
	case i.present == done && !listed:
		return "not listed though its pull returned"
	case i.present == notAsked && listed:
		return "listed though its removal returned (or it was never pulled)"
	}
	return ""
}

// exit is an exit code and its reason.
type exit struct {
	code   int32
	reason string
}

func (e exit) String() string { return fmt.Sprintf("%d %s", e.code, e.reason) }

// reasonFor is the reason of an exit the container chose itself.
func reasonFor(code int32) string {
	if code == 0 {
		return "Completed"
	}
	return "Error"
}

// stopAsked and stopDone fold the container's own stop and its pod's.
func (c *ctr) stopAsked() bool { return c.stopped != notAsked || c.pod.stopped != notAsked }
func (c *ctr) stopDone() bool  { return c.stopped == done || c.pod.stopped == done }
func (c *ctr) removeAsked() bool {
	return c.removed != notAsked || c.pod.removed != notAsked
}
func (c *ctr) removeDone() bool { return c.removed == done || c.pod.removed == done }

// allowedExits are the exits the container may report, given what it
// does and what was asked of it.
func (c *ctr) allowedExits() []exit {
	var out []exit
	if c.started != notAsked {
		switch {
		case c.kind == quick, c.kind == onCue && c.fired:
			out = append(out, exit{c.code, reasonFor(c.code)})
		case c.kind == oomOnCue && c.fired:
			out = append(out, exit{137, "OOMKilled"})
		}
	}
	if c.stopAsked() || c.removeAsked() {
		// A stop, or a removal (which stops first): SIGKILL, or SIGTERM where the init handles it; a shell as
		// init ignores SIGTERM, so mostly the former.
		out = append(out, exit{137, "Error"}, exit{143, "Error"})
	}
	return out
}

// judge compares a container's status (nil: the daemon does not know it)
// with the model. problem is "" when the status is allowed; settled is
// false while the status may still move to an allowed one (a quick
// container not exited yet), so the caller polls.
func (c *ctr) judge(st *runtimeapi.ContainerStatus) (problem string, settled bool) {
	if st == nil {
		if c.removeAsked() || c.created == maybe {
			return "", true
		}
		return "vanished though nothing removed it", true
	}
	if c.removeDone() {
		return "still there after its removal returned", true
	}
	if st.GetState() == runtimeapi.ContainerState_CONTAINER_EXITED &&
		(st.GetReason() == "Unknown" || st.GetExitCode() == 255) {
		return fmt.Sprintf("an unknown exit (%d %s: %s) though no shim was killed", st.GetExitCode(), st.GetReason(), st.GetMessage()), true
	}
	switch st.GetState() {
	case runtimeapi.ContainerState_CONTAINER_CREATED:
		switch {
		case c.started == done:
			return "CREATED after StartContainer returned", true
		case c.stopDone():
			return "CREATED after a stop returned", true
		}
		return "", true
	case runtimeapi.ContainerState_CONTAINER_RUNNING:
		switch {
		case c.started == notAsked:
			return "RUNNING though never started", true
		case c.stopDone():
			return "RUNNING after a stop returned", true
		case c.kind == quick:
			return fmt.Sprintf("RUNNING, but it exits with %d a moment after its start", c.code), false
		case c.fired && !c.stopAsked():
			return "RUNNING after its trigger", false
		}
		return "", true
	case runtimeapi.ContainerState_CONTAINER_EXITED:
		if st.GetStartedAt() != 0 && st.GetFinishedAt() < st.GetStartedAt() {
			return fmt.Sprintf("finished (%d) before it started (%d)", st.GetFinishedAt(), st.GetStartedAt()), true
		}
		got := exit{st.GetExitCode(), st.GetReason()}
		allowed := c.allowedExits()
		if len(allowed) == 0 {
			return fmt.Sprintf("EXITED %s though nothing ended it", got), true
		}
		if !slices.Contains(allowed, got) {
			return fmt.Sprintf("EXITED %s, want one of %v", got, allowed), true
		}
		return "", true
	}
	return fmt.Sprintf("state %v", st.GetState()), true
}

// judge compares a pod's state (nil: unknown to the daemon) with the
// model.
func (p *pod) judge(st *runtimeapi.PodSandbox) string {
	if st == nil {
		if p.removed != notAsked || p.run == maybe {
			return ""
		}
		return "vanished though nothing removed it"
	}
	switch {
	case p.removed == done:
		return "still there after RemovePodSandbox returned"
	case st.GetState() == runtimeapi.PodSandboxState_SANDBOX_READY && p.stopped == done:
		return "READY after StopPodSandbox returned"
	case st.GetState() == runtimeapi.PodSandboxState_SANDBOX_NOTREADY && p.stopped == notAsked && p.removed == notAsked:
		return "NOTREADY though nothing stopped it"
	}
	return ""
}
