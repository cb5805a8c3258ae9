package projector

import (
	"bytes"
	"cmp"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/logbook-cri/logbook/journal"
	"github.com/logbook-cri/logbook/journal/events"
)

var (
	seedFlag   = flag.Uint64("projector.seed", 0, "seed of the randomized tests (0: from the clock, printed on failure)")
	eventsFlag = flag.Int("projector.events", 4000, "events per randomized run")
)

// gen generates long random sequences of legal events, with its own model
// of what is legal (independent of the fold), plus a sprinkling of junk
// records (illegal transitions, undecodable payloads) that every fold must
// step over the same way.
type gen struct {
	r    *rand.Rand
	seq  uint64
	recs []journal.Record
	junk map[uint64]bool // seqs of records that must not fold

	pods     map[string]*gpod
	podOrder []string // live pods, creation order
	ctrs     map[string]*gctr
	ctrOrder []string
	removed  []gtomb // removed sandbox and container ids, in removal order

	images     map[string][]string // image id -> names
	imageOrder []string
	names      map[string]string // name -> image id
	n          int
}

// gtomb is a removed ID and the position of the record that removed it.
type gtomb struct {
	id  string
	seq uint64
}

// resurrectWithin bounds how far back a junk record re-creates a removed
// ID: the randomized test forgets only tombstones older than that, so a
// re-creation is always of an ID every fold still remembers (and refuses).
const resurrectWithin = 200

type gpod struct {
	state SandboxState
	torn  bool
	ctrs  []string
}

type gctr struct {
	sid   string
	state ContainerState
}

func newGen(seed uint64) *gen {
	return &gen{
		r:      rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		junk:   map[uint64]bool{},
		pods:   map[string]*gpod{},
		ctrs:   map[string]*gctr{},
		images: map[string][]string{},
		names:  map[string]string{},
	}
}

func (g *gen) emit(sid, cid string, m proto.Message) {
	typ, b, err := events.Encode(m)
	if err != nil {
		panic(err)
	}
	g.seq++
	g.recs = append(g.recs, journal.Record{Seq: g.seq, Time: timeOf(g.seq), Type: string(typ), SandboxID: sid, ContainerID: cid, Payload: b})
}

func (g *gen) emitJunk(r journal.Record) {
	g.seq++
	r.Seq, r.Time = g.seq, timeOf(g.seq)
	g.recs = append(g.recs, r)
	g.junk[g.seq] = true
}

func pick[T any](r *rand.Rand, xs []T) (T, bool) {
	var zero T
	if len(xs) == 0 {
		return zero, false
	}
	return xs[r.IntN(len(xs))], true
}

func (g *gen) podsIn(st SandboxState) []string {
	var out []string
	for _, id := range g.podOrder {
		if g.pods[id].state == st {
			out = append(out, id)
		}
	}
	return out
}

// maybeZero drops a timestamp now and then, to exercise the fallback to
// the record's time.
func (g *gen) maybeZero(t int64) int64 {
	if g.r.IntN(10) == 0 {
		return 0
	}
	return t
}

func (g *gen) randLabels() map[string]string {
	m := map[string]string{"app": fmt.Sprintf("app%d", g.r.IntN(5))}
	if g.r.IntN(2) == 0 {
		m["tier"] = []string{"web", "db", "cache"}[g.r.IntN(3)]
	}
	return m
}

func (g *gen) newPod() {
	g.n++
	id := fmt.Sprintf("%04x%08x", g.n, g.r.Uint32())
	cfg := &runtimeapi.PodSandboxConfig{
		Metadata:    &runtimeapi.PodSandboxMetadata{Name: "pod" + id, Uid: "u" + id, Namespace: "ns", Attempt: uint32(g.r.IntN(3))},
		Labels:      g.randLabels(),
		Annotations: map[string]string{"a": id},
	}
	if g.r.IntN(3) == 0 {
		cfg.Linux = &runtimeapi.LinuxPodSandboxConfig{
			SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{NamespaceOptions: &runtimeapi.NamespaceOption{Network: runtimeapi.NamespaceMode_NODE}},
			Resources:       &runtimeapi.LinuxContainerResources{CpuShares: int64(g.r.IntN(1024))},
		}
	}
	g.emit(id, "", &events.SandboxCreating{Config: cfg, CreatedAt: g.maybeZero(timeOf(g.seq + 1)), NetnsPath: "/run/netns/" + id, CgroupParent: "/kubepods/" + id, RuntimeHandler: "runc"})
	g.pods[id] = &gpod{state: SandboxCreating}
	g.podOrder = append(g.podOrder, id)
}

func (g *gen) dropPod(id string) {
	delete(g.pods, id)
	g.podOrder = slices.DeleteFunc(g.podOrder, func(x string) bool { return x == id })
	g.removed = append(g.removed, gtomb{id, g.seq})
}

func (g *gen) dropCtr(id string) {
	c := g.ctrs[id]
	p := g.pods[c.sid]
	p.ctrs = slices.DeleteFunc(p.ctrs, func(x string) bool { return x == id })
	delete(g.ctrs, id)
	g.ctrOrder = slices.DeleteFunc(g.ctrOrder, func(x string) bool { return x == id })
	g.removed = append(g.removed, gtomb{id, g.seq})
}

func (g *gen) setPod(id string, st SandboxState)   { g.pods[id].state = st }
func (g *gen) setCtr(id string, st ContainerState) { g.ctrs[id].state = st }

func (g *gen) newCtr(sid string) {
	g.n++
	id := fmt.Sprintf("c%04x%08x", g.n, g.r.Uint32())
	img := imageID(g.r.IntN(30))
	cfg := &runtimeapi.ContainerConfig{
		Metadata: &runtimeapi.ContainerMetadata{Name: "ctr" + id, Attempt: uint32(g.r.IntN(2))},
		Image:    &runtimeapi.ImageSpec{Image: img},
		Labels:   g.randLabels(),
	}
	if g.r.IntN(2) == 0 {
		cfg.Linux = &runtimeapi.LinuxContainerConfig{Resources: &runtimeapi.LinuxContainerResources{MemoryLimitInBytes: int64(g.r.IntN(1 << 30))}}
	}
	cc := &events.ContainerCreating{Config: cfg, ImageId: img, LogPath: "/var/log/pods/" + sid + "/" + id + ".log", CreatedAt: g.maybeZero(timeOf(g.seq + 1))}
	if g.r.IntN(2) == 0 {
		cc.Image = &runtimeapi.ImageSpec{Image: img, UserSpecifiedImage: "busybox"}
		cc.ImageRef = "docker.io/library/busybox@" + img
		cc.Mounts = []*runtimeapi.Mount{{ContainerPath: "/d", HostPath: "/h/" + id}}
	}
	g.emit(sid, id, cc)
	g.ctrs[id] = &gctr{sid: sid, state: ContainerCreating}
	g.ctrOrder = append(g.ctrOrder, id)
	g.pods[sid].ctrs = append(g.pods[sid].ctrs, id)
}

func (g *gen) exitCtr(id string) {
	e := &events.ContainerExited{ExitCode: int32(g.r.IntN(3)), FinishedAt: g.maybeZero(timeOf(g.seq + 1))}
	if g.r.IntN(4) == 0 {
		e.Reason, e.ExitCode = "OOMKilled", 137
	}
	g.emit("", id, e)
	g.setCtr(id, ContainerExited)
}

func (g *gen) stepCtr(id string) {
	c := g.ctrs[id]
	x := g.r.IntN(100)
	switch c.state {
	case ContainerCreating:
		if x < 85 {
			created := &events.ContainerCreated{Pid: uint32(g.r.IntN(1 << 16))}
			if g.r.IntN(2) == 0 {
				created.User = &runtimeapi.ContainerUser{Linux: &runtimeapi.LinuxContainerUser{Uid: int64(g.r.IntN(2000)), Gid: 7}}
			}
			g.emit(c.sid, id, created)
			g.setCtr(id, ContainerCreated)
		} else {
			g.emit("", id, &events.ContainerRemoved{Reason: "rolled back"})
			g.dropCtr(id)
		}
	case ContainerCreated:
		switch {
		case x < 70:
			g.emit("", id, &events.ContainerStarted{Pid: uint32(g.r.IntN(1 << 16)), StartedAt: g.maybeZero(timeOf(g.seq + 1))})
			g.setCtr(id, ContainerRunning)
		case x < 80:
			g.exitCtr(id)
		case x < 90:
			g.emit("", id, &events.ContainerRemoved{})
			g.dropCtr(id)
		default:
			g.emit(c.sid, id, &events.ContainerResourcesUpdated{Resources: &runtimeapi.ContainerResources{Linux: &runtimeapi.LinuxContainerResources{CpuQuota: int64(x)}}})
		}
	case ContainerRunning:
		switch {
		case x < 80:
			g.exitCtr(id)
		case x < 90:
			g.emit("", id, &events.ContainerOOM{OomKills: uint64(x), ObservedAt: g.maybeZero(timeOf(g.seq + 1))})
		default:
			g.emit("", id, &events.ContainerResourcesUpdated{Resources: &runtimeapi.ContainerResources{Linux: &runtimeapi.LinuxContainerResources{CpuQuota: int64(x)}}})
		}
	case ContainerExited:
		if x < 90 {
			g.emit("", id, &events.ContainerRemoved{})
			g.dropCtr(id)
		} else {
			// The kernel's news of a kill may come after the exit.
			g.emit(c.sid, id, &events.ContainerOOM{OomKills: 1})
		}
	}
}

// stopPod does what StopPodSandbox journals: every container stopped (or
// rolled back), then the sandbox.
func (g *gen) stopPod(id string) {
	for _, cid := range slices.Clone(g.pods[id].ctrs) {
		switch g.ctrs[cid].state {
		case ContainerCreating:
			g.emit("", cid, &events.ContainerRemoved{Reason: "rolled back"})
			g.dropCtr(cid)
		case ContainerCreated, ContainerRunning:
			g.exitCtr(cid)
		}
	}
	g.emit(id, "", &events.SandboxStopped{StoppedAt: g.maybeZero(timeOf(g.seq + 1))})
	g.setPod(id, SandboxNotReady)
}

// removePod does what RemovePodSandbox journals on a stopped pod.
func (g *gen) removePod(id string) {
	for _, cid := range slices.Clone(g.pods[id].ctrs) {
		g.emit("", cid, &events.ContainerRemoved{})
		g.dropCtr(cid)
	}
	if !g.pods[id].torn && g.r.IntN(2) == 0 {
		g.emit(id, "", &events.SandboxNetworkTornDown{})
	}
	g.emit(id, "", &events.SandboxRemoved{})
	g.dropPod(id)
}

func (g *gen) imageStep() {
	x := g.r.IntN(100)
	name := fmt.Sprintf("docker.io/library/img%d:%d", g.r.IntN(8), g.r.IntN(5))
	if g.r.IntN(4) == 0 {
		name = fmt.Sprintf("docker.io/library/img%d@%s", g.r.IntN(8), imageID(100+g.r.IntN(5)))
	}
	switch {
	case x < 35: // pull a new or existing image
		id := imageID(g.r.IntN(30))
		p := &events.ImagePulled{ImageId: id, Size: uint64(g.r.IntN(1 << 30)), ManifestDigest: imageID(200 + g.r.IntN(9)),
			Config: fmt.Appendf(nil, `{"config":{"User":%q}}`, []string{"", "1002", "www-data", "1003:1004", "www-data:1004"}[g.r.IntN(5)])}
		g.emit("", "", p)
		if _, ok := g.images[id]; !ok {
			g.images[id] = nil
			g.imageOrder = append(g.imageOrder, id)
		}
	case x < 65: // tag a free name, or move a taken one
		id, ok := pick(g.r, g.imageOrder)
		if !ok {
			return
		}
		if owner, taken := g.names[name]; taken {
			if owner == id {
				return
			}
			g.emit("", "", &events.ImageUntagged{ImageId: owner, Name: name})
			g.images[owner] = slices.DeleteFunc(g.images[owner], func(n string) bool { return n == name })
		}
		g.emit("", "", &events.ImageTagged{ImageId: id, Name: name})
		g.images[id] = append(g.images[id], name)
		g.names[name] = id
	case x < 85: // untag
		id, ok := pick(g.r, g.imageOrder)
		if !ok {
			return
		}
		n, ok := pick(g.r, g.images[id])
		if !ok {
			return
		}
		g.emit("", "", &events.ImageUntagged{ImageId: id, Name: n})
		g.images[id] = slices.DeleteFunc(g.images[id], func(x string) bool { return x == n })
		delete(g.names, n)
	default: // remove
		id, ok := pick(g.r, g.imageOrder)
		if !ok {
			return
		}
		g.emit("", "", &events.ImageRemoved{ImageId: id})
		for _, n := range g.images[id] {
			delete(g.names, n)
		}
		delete(g.images, id)
		g.imageOrder = slices.DeleteFunc(g.imageOrder, func(x string) bool { return x == id })
	}
}

// junkStep appends a record no fold may accept.
func (g *gen) junkStep() {
	switch g.r.IntN(4) {
	case 0: // resurrect an ID removed lately
		recent, _ := slices.BinarySearchFunc(g.removed, g.seq+1-min(g.seq, resurrectWithin), func(t gtomb, seq uint64) int { return cmp.Compare(t.seq, seq) })
		if t, ok := pick(g.r, g.removed[recent:]); ok {
			typ, b, _ := events.Encode(sandboxCreating(t.id))
			g.emitJunk(journal.Record{Type: string(typ), SandboxID: t.id, Payload: b})
			return
		}
		fallthrough
	case 1: // start a container that is not Created
		for _, id := range g.ctrOrder {
			if st := g.ctrs[id].state; st != ContainerCreated {
				typ, b, _ := events.Encode(&events.ContainerStarted{})
				g.emitJunk(journal.Record{Type: string(typ), ContainerID: id, Payload: b})
				return
			}
		}
		fallthrough
	case 2: // garbage payload
		g.emitJunk(journal.Record{Type: string(events.ContainerExitedType), ContainerID: "x", Payload: []byte{0xff, 0xff, 0xff}})
	default: // a type from the future
		g.emitJunk(journal.Record{Type: "container.teleported", ContainerID: "x"})
	}
}

// maxLivePods bounds the generator's live pods.
const maxLivePods = 50

// step appends one action's records.
func (g *gen) step() {
	x := g.r.IntN(100)
	switch {
	case x < 2:
		g.junkStep()
	case x < 10:
		// A node at steady state: past a few dozen pods, churn instead
		// of growth (which also keeps the generator linear).
		if len(g.podOrder) < maxLivePods {
			g.newPod()
		} else if id, ok := pick(g.r, g.podsIn(SandboxNotReady)); ok {
			g.removePod(id)
		} else if id, ok := pick(g.r, g.podsIn(SandboxReady)); ok {
			g.stopPod(id)
		}
	case x < 16:
		if id, ok := pick(g.r, g.podsIn(SandboxCreating)); ok {
			if g.r.IntN(10) == 0 {
				g.emit(id, "", &events.SandboxRemoved{Reason: "rolled back"})
				g.dropPod(id)
			} else {
				g.emit(id, "", &events.SandboxReady{Pid: uint32(g.r.IntN(1 << 16)), Network: &events.SandboxNetwork{Ip: fmt.Sprintf("10.0.%d.%d", g.r.IntN(255), g.r.IntN(255))}})
				g.setPod(id, SandboxReady)
			}
		}
	case x < 18:
		if id, ok := pick(g.r, g.podsIn(SandboxReady)); ok {
			g.emit(id, "", &events.SandboxResourcesUpdated{Resources: &runtimeapi.LinuxContainerResources{CpuShares: int64(x)}})
		}
	case x < 36:
		if id, ok := pick(g.r, g.podsIn(SandboxReady)); ok {
			g.newCtr(id)
		}
	case x < 70:
		if id, ok := pick(g.r, g.ctrOrder); ok {
			g.stepCtr(id)
		}
	case x < 74:
		if id, ok := pick(g.r, g.podsIn(SandboxReady)); ok {
			g.stopPod(id)
		}
	case x < 76:
		if id, ok := pick(g.r, g.podsIn(SandboxNotReady)); ok && !g.pods[id].torn {
			g.emit(id, "", &events.SandboxNetworkTornDown{})
			g.pods[id].torn = true
		}
	case x < 80:
		if id, ok := pick(g.r, g.podsIn(SandboxNotReady)); ok {
			g.removePod(id)
		}
	default:
		g.imageStep()
	}
}

func generate(seed uint64, n int) *gen {
	g := newGen(seed)
	for len(g.recs) < n {
		g.step()
	}
	return g
}

func seeds(t *testing.T, n int) []uint64 {
	base := *seedFlag
	if base == 0 {
		base = uint64(time.Now().UnixNano())
	}
	out := make([]uint64, n)
	for i := range out {
		out[i] = base + uint64(i)
	}
	return out
}

func mustMarshal(t *testing.T, s *State) []byte {
	t.Helper()
	b, err := s.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sameState compares two states: by their deterministic encoding (cheap),
// and, when that differs, reports the structural difference.
func sameState(t *testing.T, what string, got, want *State) {
	t.Helper()
	if !bytes.Equal(mustMarshal(t, got), mustMarshal(t, want)) {
		t.Fatalf("%s differs from the replay (-got +want):\n%s", what, stateDiff(got, want))
	}
}

// forgetAt is a retention pass in a randomized history: after the first
// after records, the folds forget the tombstones removed before before.
type forgetAt struct {
	after  int
	before uint64
}

// replayForgetting is replay with the retention passes of forgets (those
// within recs) made at their positions.
func replayForgetting(recs []journal.Record, forgets []forgetAt) *State {
	s := NewState()
	for i, r := range recs {
		if err := s.fold(r); err != nil {
			s.skip(r.Seq)
		}
		for _, f := range forgets {
			if f.after == i+1 {
				s.ForgetRemovedBefore(f.before)
			}
		}
	}
	return s
}

// forgotten is s less the tombstones removed before n: what Load returns
// after a compaction that kept the records from n on.
func forgotten(s *State, n uint64) *State {
	c := s.Clone()
	c.ForgetRemovedBefore(n)
	return c
}

// The brief's invariant 2: a fresh replay of the journal equals the
// incrementally maintained view, whatever the interleaving of batches,
// clones, private subscriber folds and retention passes (which forget old
// tombstones: the replay forgets the same at the same positions); and a
// snapshot round trip equals both. Then Load, from a journal with
// snapshots and after a compaction, equals the replay (less, after the
// compaction, the tombstones removed before its cut).
func TestRandomizedFoldEqualsReplay(t *testing.T) {
	n := *eventsFlag
	if testing.Short() {
		n /= 4
	}
	for _, seed := range seeds(t, 4) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			t.Logf("rerun with -projector.seed=%d", seed)
			g := generate(seed, n)
			r := rand.New(rand.NewPCG(seed, 1))
			log := slog.New(slog.NewTextHandler(io.Discard, nil))

			store := NewStore(nil, log)
			single := NewState()
			type frozen struct {
				s   *State
				at  int // number of records folded
				enc []byte
			}
			var frozens []frozen
			type subscriber struct {
				s    *State
				from int
			}
			var subs []subscriber
			var singleEvents []*runtimeapi.ContainerEventResponse
			subEvents := map[int][]*runtimeapi.ContainerEventResponse{}
			var forgets []forgetAt
			forgot := 0

			for i := 0; i < len(g.recs); {
				batch := g.recs[i:min(len(g.recs), i+1+r.IntN(16))]
				store.ApplyRecords(batch)
				for _, rec := range batch {
					e, err := Decode(rec)
					if err == nil {
						err = single.Apply(e)
					}
					if g.junk[rec.Seq] != (err != nil) {
						t.Fatalf("record %d (%s %s/%s): junk=%v but Apply gave %v", rec.Seq, rec.Type, rec.SandboxID, rec.ContainerID, g.junk[rec.Seq], err)
					}
					if err != nil {
						single.skip(rec.Seq)
						for _, sub := range subs {
							if sub.s.Seq() < rec.Seq {
								sub.s.skip(rec.Seq) // as eventstream steps over it
							}
						}
						continue
					}
					singleEvents = append(singleEvents, single.CRIEvents(e)...)
					for k, sub := range subs {
						if sub.s.Seq() >= rec.Seq {
							continue
						}
						if err := sub.s.Apply(e); err != nil {
							t.Fatalf("subscriber %d: record %d: %v", k, rec.Seq, err)
						}
						subEvents[k] = append(subEvents[k], sub.s.CRIEvents(e)...)
					}
				}
				i += len(batch)
				if store.Seq() != uint64(i) {
					t.Fatalf("store at %d after %d records", store.Seq(), i)
				}
				// A retention pass now and then, and surely one past the
				// middle; never after the last record, so that every
				// subscriber folds one more record and follows it. Its cut
				// stays behind the records a junk record may resurrect.
				h := i - resurrectWithin - r.IntN(resurrectWithin)
				if len(forgets) == 0 && i >= len(g.recs)*3/4 {
					h = i - resurrectWithin
				} else if r.IntN(40) != 0 {
					h = 0
				}
				if h > 0 && i < len(g.recs) {
					k := store.ForgetRemovedBefore(uint64(h))
					if k2 := single.ForgetRemovedBefore(uint64(h)); k2 != k {
						t.Fatalf("forget before %d: the store forgot %d tombstones, the single fold %d", h, k, k2)
					}
					forgets = append(forgets, forgetAt{i, uint64(h)})
					forgot += k
				}
				switch r.IntN(40) {
				case 0: // a private clone nobody touches again
					c := single.Clone()
					frozens = append(frozens, frozen{c, i, mustMarshal(t, c)})
				case 1: // a new subscriber folds its own copy from here on
					subs = append(subs, subscriber{store.Snapshot(), i})
				}
			}
			if store.Skipped() != uint64(len(g.junk)) {
				t.Fatalf("store skipped %d records, %d were junk", store.Skipped(), len(g.junk))
			}
			// Each tombstone is forgotten once, by the first pass past it.
			var horizon uint64
			for _, f := range forgets {
				horizon = max(horizon, f.before)
			}
			old := 0
			for _, tomb := range g.removed {
				if tomb.seq < horizon {
					old++
				}
			}
			if forgot != old || old == 0 {
				t.Fatalf("%d retention passes up to %d forgot %d tombstones; %d were older", len(forgets), horizon, forgot, old)
			}

			want := replayForgetting(g.recs, forgets)
			if want.Seq() != uint64(len(g.recs)) {
				t.Fatalf("replay at %d", want.Seq())
			}
			final := store.Snapshot()
			if d := stateDiff(final, want); d != "" {
				t.Fatalf("store differs from replay (-store +replay):\n%s", d)
			}
			sameState(t, "one-by-one fold", single, want)

			// Snapshot round trip: lossless, and the indexes rebuilt from
			// the objects equal the ones maintained incrementally.
			back, err := UnmarshalState(mustMarshal(t, want))
			if err != nil {
				t.Fatal(err)
			}
			if d := stateDiff(back, want); d != "" {
				t.Fatalf("snapshot round trip differs (-back +replay):\n%s", d)
			}

			// Clones are isolated: each still equals the replay of its prefix.
			for _, fz := range frozens {
				if !bytes.Equal(mustMarshal(t, fz.s), fz.enc) {
					t.Fatalf("clone at %d changed after it was taken", fz.at)
				}
				sameState(t, fmt.Sprintf("clone at %d", fz.at), fz.s, replayForgetting(g.recs[:fz.at], forgets))
			}
			// Subscribers folding privately end where the store does
			// (having followed its retention passes), and saw the same CRI
			// events as a fold that was there from the start.
			for k, sub := range subs {
				sameState(t, fmt.Sprintf("subscriber from %d", sub.from), sub.s, want)
				got := subEvents[k]
				tail := singleEvents[len(singleEvents)-len(got):]
				for j := range got {
					if !proto.Equal(got[j], tail[j]) {
						t.Fatalf("subscriber %d event %d differs:\n%v\n%v", k, j, got[j], tail[j])
					}
				}
			}

			// Load from a journal with snapshots at random points gives the
			// same state at the head and at a random position.
			plain := replay(g.recs)
			j := newMemJournal(g.recs)
			for range 3 {
				at := 1 + r.IntN(len(g.recs))
				j.snaps[uint64(at)] = mustMarshal(t, replay(g.recs[:at]))
			}
			loaded, err := Load(context.Background(), j, 0, func(journal.Record, error) {})
			if err != nil {
				t.Fatal(err)
			}
			sameState(t, "Load", loaded, plain)
			mid := 1 + r.IntN(len(g.recs))
			loaded, err = Load(context.Background(), j, uint64(mid), func(journal.Record, error) {})
			if err != nil {
				t.Fatal(err)
			}
			sameState(t, fmt.Sprintf("Load at %d", mid), loaded, replay(g.recs[:mid]))

			// After a compaction that keeps the records from cut on, Load
			// at cut-1 or later gives the same states as before, less the
			// tombstones removed before cut. (On the history without its
			// junk: compaction stops at a record it cannot fold.)
			clean := cleanRecords(g)
			cj := newMemJournal(clean)
			for range 3 {
				at := 1 + r.IntN(len(clean))
				cj.snaps[uint64(at)] = mustMarshal(t, replay(clean[:at]))
			}
			cut := uint64(2 + r.IntN(len(clean)))
			if _, err := Compact(context.Background(), cj, time.Minute, nowAfter(cut-1, time.Minute)); err != nil || cj.first != cut {
				t.Fatalf("compaction before %d: first %d, %v", cut, cj.first, err)
			}
			loaded, err = Load(context.Background(), cj, 0, nil)
			if err != nil {
				t.Fatal(err)
			}
			sameState(t, fmt.Sprintf("Load after compaction before %d", cut), loaded, forgotten(replay(clean), cut))
			mid = int(cut) - 1 + r.IntN(len(clean)-int(cut)+2)
			loaded, err = Load(context.Background(), cj, uint64(mid), nil)
			if err != nil {
				t.Fatal(err)
			}
			sameState(t, fmt.Sprintf("Load at %d after compaction before %d", mid, cut), loaded, forgotten(replay(clean[:mid]), cut))

			live := len(want.sandboxes) + len(want.containers) + len(want.images)
			t.Logf("%d records (%d junk), %d live objects, %d tombstones (%d forgotten in %d passes), %d clones, %d subscribers, %d CRI events",
				len(g.recs), len(g.junk), live, want.removed.len(), forgot, len(forgets), len(frozens), len(subs), len(singleEvents))
			if live == 0 || len(singleEvents) == 0 {
				t.Fatal("the generator produced a trivial history")
			}
		})
	}
}
