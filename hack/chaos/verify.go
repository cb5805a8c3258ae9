package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/logbook-cri/logbook/hack/chaos/rig"
)

// verify checks the restarted daemon against the model and the node:
// every status, runc's view, the journal, the event follower, leaks. No
// worker runs, so d.mu is not needed for the model; it is taken where
// violation is not called. It returns a short account for the round line.
func (d *driver) verify(r int) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	if err := d.adopt(ctx, r); err != nil {
		d.violation(r, "listing: %v", err)
		return "lists failed"
	}

	// Statuses: polled, since containers triggered before the kill may
	// still be exiting, and recovery's work lands a moment after start.
	var problems []string
	deadline := time.Now().Add(30 * time.Second)
	for {
		var settled bool
		var err error
		problems, settled, err = d.judgeAll(ctx)
		if err != nil {
			problems = append(problems, err.Error())
		}
		dis, err := d.w.Disagreements(ctx)
		if err != nil {
			dis = append(dis, err.Error())
		}
		problems = append(problems, dis...)
		if len(problems) == 0 && settled {
			break
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, p := range problems {
		d.violation(r, "%s", p)
	}

	if out, err := d.w.VerifyJournal(ctx); err != nil {
		d.violation(r, "logbook journal verify: %v\n%s", err, out)
	}

	evs := d.checkEvents(ctx, r)

	var leaks []string
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		live, err := d.w.LiveNow(ctx)
		if err != nil {
			leaks = []string{"lists: " + err.Error()}
		} else {
			leaks = d.w.Leaks(ctx, live)
		}
		if len(leaks) == 0 || time.Now().After(deadline) {
			break
		}
	}
	for _, l := range leaks {
		d.violation(r, "leak: %s", l)
	}
	d.resolve(ctx)
	return fmt.Sprintf("%d events in order", evs)
}

// adopt gives IDs to the pods and containers whose creating call was cut:
// the daemon lists them (their creation was journaled) under the unique
// names the driver gave them. Anything else it lists is a violation.
func (d *driver) adopt(ctx context.Context, r int) error {
	rt := d.w.RT()
	pods, err := rt.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
	if err != nil {
		return err
	}
	ctrs, err := rt.ListContainers(ctx, &runtimeapi.ListContainersRequest{})
	if err != nil {
		return err
	}
	byID := map[string]bool{}
	for _, p := range d.pods {
		if p.id != "" {
			byID[p.id] = true
		}
		for _, c := range p.ctrs {
			if c.id != "" {
				byID[c.id] = true
			}
		}
	}
	for _, lp := range pods.GetItems() {
		if byID[lp.GetId()] {
			continue
		}
		i := slices.IndexFunc(d.pods, func(p *pod) bool { return p.id == "" && p.name == lp.GetMetadata().GetName() })
		if i < 0 {
			d.violation(r, "the daemon lists a pod the driver never asked for: %s %s", lp.GetId(), lp.GetMetadata().GetName())
			continue
		}
		d.pods[i].id = lp.GetId()
	}
	for _, lc := range ctrs.GetContainers() {
		if byID[lc.GetId()] {
			continue
		}
		var found *ctr
		for _, p := range d.pods {
			for _, c := range p.ctrs {
				if c.id == "" && c.name == lc.GetMetadata().GetName() && p.id == lc.GetPodSandboxId() {
					found = c
				}
			}
		}
		if found == nil {
			d.violation(r, "the daemon lists a container the driver never asked for: %s %s", lc.GetId(), lc.GetMetadata().GetName())
			continue
		}
		found.id = lc.GetId()
	}
	return nil
}

// judgeAll judges every pod and container of the model against the
// daemon's statuses.
func (d *driver) judgeAll(ctx context.Context) (problems []string, settled bool, err error) {
	rt := d.w.RT()
	list, err := rt.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
	if err != nil {
		return nil, false, err
	}
	pods := map[string]*runtimeapi.PodSandbox{}
	for _, p := range list.GetItems() {
		pods[p.GetId()] = p
	}
	listed, err := d.listedImages(ctx)
	if err != nil {
		return nil, false, err
	}
	for _, i := range d.images {
		if pr := i.judge(listed[i.ref]); pr != "" {
			problems = append(problems, fmt.Sprintf("image %s: %s", i.ref, pr))
		}
	}
	settled = true
	for _, p := range d.pods {
		var st *runtimeapi.PodSandbox
		if p.id != "" {
			st = pods[p.id]
		}
		if pr := p.judge(st); pr != "" {
			problems = append(problems, fmt.Sprintf("pod %s (%s): %s", p.name, short(p.id), pr))
		}
		for _, c := range p.ctrs {
			var cs *runtimeapi.ContainerStatus
			if c.id != "" {
				resp, err := rt.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: c.id})
				switch {
				case status.Code(err) == codes.NotFound:
				case err != nil:
					return nil, false, fmt.Errorf("ContainerStatus %s: %w", c.name, err)
				default:
					cs = resp.GetStatus()
				}
			}
			pr, ok := c.judge(cs)
			settled = settled && ok
			if pr != "" {
				problems = append(problems, fmt.Sprintf("container %s (%s, %s): %s", c.name, short(c.id), c.history(), pr))
			}
		}
	}
	return problems, settled, nil
}

// listedImages are the tags the daemon lists.
func (d *driver) listedImages(ctx context.Context) (map[string]bool, error) {
	l, err := d.w.Img().ListImages(ctx, &runtimeapi.ListImagesRequest{})
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, i := range l.GetImages() {
		for _, t := range i.GetRepoTags() {
			out[t] = true
		}
	}
	return out, nil
}

// history describes what was asked of a container, for a violation.
func (c *ctr) history() string {
	o := func(x outcome) string { return [...]string{"no", "cut", "yes"}[x] }
	s := fmt.Sprintf("created:%s started:%s stopped:%s removed:%s pod-stopped:%s", o(c.created), o(c.started), o(c.stopped), o(c.removed), o(c.pod.stopped))
	if c.fired {
		s += " triggered"
		if c.firedDown {
			s += "-while-down"
		}
	}
	return s
}

// checkEvents waits for the follower to reach the journal's end and
// compares what it received with what the journal says it must have.
func (d *driver) checkEvents(ctx context.Context, r int) int {
	j := d.w.Journal()
	_, last, err := j.Bounds(ctx)
	if err != nil {
		d.violation(r, "journal bounds: %v", err)
		return 0
	}
	start, _ := d.f.Started()
	want, err := rig.Expected(ctx, j, start, last)
	if err != nil {
		d.violation(r, "the journal's events: %v", err)
		return 0
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err = d.f.WaitFor(wctx, last, len(want))
	cancel()
	if err != nil {
		d.violation(r, "events: %v", err)
	}
	_, got, problems := d.f.Received()
	for _, p := range problems {
		d.violation(r, "event stream: %s", p)
	}
	got = slices.DeleteFunc(got, func(e rig.Event) bool { return e.Seq > last })
	for _, p := range rig.Compare(got, want, 10) {
		d.violation(r, "events after #%d: %s", start, p)
	}
	d.mu.Lock()
	d.events = len(got)
	d.mu.Unlock()
	return len(got)
}

// resolve settles what the cut calls did, now that the daemon has said,
// and forgets what is gone.
func (d *driver) resolve(ctx context.Context) {
	if listed, err := d.listedImages(ctx); err == nil {
		for _, i := range d.images {
			if i.present == maybe {
				i.present = notAsked
				if listed[i.ref] {
					i.present = done
				}
			}
		}
	}
	rt := d.w.RT()
	list, err := rt.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
	if err != nil {
		return
	}
	pods := map[string]*runtimeapi.PodSandbox{}
	for _, p := range list.GetItems() {
		pods[p.GetId()] = p
	}
	d.pods = slices.DeleteFunc(d.pods, func(p *pod) bool {
		st := pods[p.id]
		if p.id == "" || st == nil {
			return true
		}
		podCut := p.stopped == maybe || p.removed == maybe
		if podCut {
			p.stopped = notAsked
			if st.GetState() == runtimeapi.PodSandboxState_SANDBOX_NOTREADY {
				p.stopped = done
			}
		}
		p.run, p.removed = done, notAsked
		p.ctrs = slices.DeleteFunc(p.ctrs, func(c *ctr) bool {
			if c.id == "" {
				return true
			}
			resp, err := rt.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: c.id})
			if err != nil {
				return status.Code(err) == codes.NotFound
			}
			s := resp.GetStatus().GetState()
			if c.started == maybe {
				c.started = done
				if s == runtimeapi.ContainerState_CONTAINER_CREATED {
					c.started = notAsked
				}
			}
			if c.stopped == maybe || c.removed == maybe || podCut {
				// A cut stop, or a cut removal (its own or its pod's),
				// which stops first: it stopped the container if the
				// container has exited.
				c.stopped = notAsked
				if s == runtimeapi.ContainerState_CONTAINER_EXITED {
					c.stopped = done
				}
			}
			c.created, c.removed = done, notAsked
			return false
		})
		return false
	})
}

// finish removes every pod, checks that nothing is left, and stops the
// daemon cleanly.
func (d *driver) finish(r int) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	d.rt, d.img, d.roundNo = d.w.RT(), d.w.Img(), r
	for _, p := range d.pods {
		p.removed = maybe
		res, _ := d.call(ctx, "RemovePodSandbox "+p.name, func(ctx context.Context) error {
			_, err := d.rt.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: p.id})
			return err
		})
		p.removed = res
	}
	checked := d.verify(r)
	if len(d.pods) > 0 {
		d.violation(r, "%d pods left after removing them all", len(d.pods))
	}
	fmt.Printf("final: every pod removed; %s\n", checked)
	if err := d.w.Stop(); err != nil {
		d.violation(r, "logbookd on SIGTERM: %v (log %s)", err, d.w.LogPath())
	}
}

func (d *driver) summary(rounds int, took time.Duration) {
	d.mu.Lock()
	defer d.mu.Unlock()
	fmt.Printf("\nchaos summary (seed %d): %d rounds in %v; %d calls, %d cut by a SIGKILL; %d ExecSync checked; "+
		"%d exits and %d OOM kills while the daemon was down, %d triggered with it up; %d events received exactly once, in order\n",
		d.o.seed, rounds, took.Round(time.Second), d.calls, d.cuts, d.execs, d.exitsDown, d.oomsDown, d.firedUp, d.events)
	if len(d.violations) == 0 {
		fmt.Println("chaos: no violation")
		return
	}
	fmt.Printf("chaos: %d VIOLATION(S):\n  %s\n", len(d.violations), strings.Join(d.violations, "\n  "))
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
