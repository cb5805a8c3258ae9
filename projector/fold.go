package projector

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/logbook-cri/logbook/journal/events"
)

// Apply folds one event into the state. The event must come after every
// event folded so far (ErrOutOfOrder otherwise), be well formed
// (ErrBadEvent) and be a legal transition of the object it names
// (*TransitionError). On any error the state is unchanged: each apply
// function below checks everything before it writes anything.
func (s *State) Apply(e Event) error {
	if err := check(e); err != nil {
		return err
	}
	if e.Seq <= s.seq {
		return fmt.Errorf("%w: event %d (%s) at state %d", ErrOutOfOrder, e.Seq, e.Type, s.seq)
	}
	var (
		rmSandbox   *Sandbox
		rmContainer *Container
		err         error
	)
	switch aggregate(e.Type) {
	case "sandbox":
		rmSandbox, err = s.applySandbox(e)
	case "container":
		rmContainer, err = s.applyContainer(e)
	case "image":
		err = s.applyImage(e)
	default:
		// check accepted a type of the schema this switch does not know.
		err = fmt.Errorf("%w: record %d: no fold for %s", ErrBadEvent, e.Seq, e.Type)
	}
	if err != nil {
		return err
	}
	s.seq = e.Seq
	s.lastRemovedSandbox, s.lastRemovedContainer = rmSandbox, rmContainer
	s.forgetDue()
	return nil
}

// orTime returns t unless it is zero, then the record's time: a payload
// without a timestamp still gets a CRI time that is > 0 and the same on
// every replay.
func orTime(t int64, e Event) int64 {
	if t != 0 {
		return t
	}
	return e.Time
}

func (s *State) sandboxFrom(id string) (*Sandbox, SandboxState) {
	if sb, ok := s.sandboxes[id]; ok {
		return sb, sb.State
	}
	if s.removed.has(id) {
		return nil, SandboxRemoved
	}
	return nil, SandboxAbsent
}

func (s *State) applySandbox(e Event) (removed *Sandbox, err error) {
	id := e.SandboxID
	cur, from := s.sandboxFrom(id)
	refuse := func(reason string) error {
		return &TransitionError{Object: "sandbox", ID: id, From: from.String(), Event: e.Type, Reason: reason}
	}
	to, ok := next(sandboxTable, from, e.Type)
	if !ok {
		return nil, refuse("")
	}
	var n Sandbox
	if cur != nil {
		n = *cur
	}
	n.State, n.LastSeq = to, e.Seq

	switch p := e.Payload.(type) {
	case *events.SandboxCreating:
		if _, ok := s.containers[id]; ok {
			return nil, refuse("the id is a container's")
		}
		key := sandboxKey(p.GetConfig().GetMetadata())
		if other, ok := s.sandboxNames[key]; ok {
			return nil, refuse("its name is reserved by sandbox " + other)
		}
		n = Sandbox{
			ID:             id,
			State:          to,
			Config:         p.GetConfig(),
			RuntimeHandler: p.GetRuntimeHandler(),
			CreatedAt:      orTime(p.GetCreatedAt(), e),
			NetNSPath:      p.GetNetnsPath(),
			CgroupParent:   p.GetCgroupParent(),
			Overhead:       p.GetConfig().GetLinux().GetOverhead(),
			Resources:      p.GetConfig().GetLinux().GetResources(),
			FirstSeq:       e.Seq,
			LastSeq:        e.Seq,
		}
		s.sandboxNames[key] = id
	case *events.SandboxReady:
		n.Pid = p.GetPid()
		n.Network = p.GetNetwork()
	case *events.SandboxStopped:
		for _, cid := range s.podContainers[id] {
			if c := s.containers[cid]; c.State != ContainerExited {
				return nil, refuse("container " + cid + " is " + c.State.String())
			}
		}
		n.Pid = 0
		n.StoppedAt = orTime(p.GetStoppedAt(), e)
	case *events.SandboxNetworkTornDown:
		if cur.NetworkTornDown {
			return nil, refuse("the network is already torn down")
		}
		n.NetworkTornDown = true
	case *events.SandboxRemoved:
		if left := len(s.podContainers[id]); left > 0 {
			return nil, refuse(strconv.Itoa(left) + " of its containers are not removed")
		}
		delete(s.sandboxes, id)
		delete(s.podContainers, id)
		delete(s.sandboxNames, sandboxKey(cur.Config.GetMetadata()))
		s.removed.add(id, e.Seq)
		if cur.State == SandboxCreating {
			return nil, nil // never visible: nothing to report
		}
		return cur, nil
	case *events.SandboxResourcesUpdated:
		n.Overhead = p.GetOverhead()
		n.Resources = p.GetResources()
	}
	s.sandboxes[id] = &n
	return nil, nil
}

func (s *State) containerFrom(id string) (*Container, ContainerState) {
	if c, ok := s.containers[id]; ok {
		return c, c.State
	}
	if s.removed.has(id) {
		return nil, ContainerRemoved
	}
	return nil, ContainerAbsent
}

func (s *State) applyContainer(e Event) (removed *Container, err error) {
	id := e.ContainerID
	cur, from := s.containerFrom(id)
	refuse := func(reason string) error {
		return &TransitionError{Object: "container", ID: id, From: from.String(), Event: e.Type, Reason: reason}
	}
	to, ok := next(containerTable, from, e.Type)
	if !ok {
		return nil, refuse("")
	}
	if cur != nil && e.SandboxID != "" && e.SandboxID != cur.SandboxID {
		return nil, refuse("it belongs to sandbox " + cur.SandboxID + ", not " + e.SandboxID)
	}
	if e.Type == events.ContainerOOMType {
		return nil, nil // a record of a kill, not a change (lifecycle.go)
	}
	var n Container
	if cur != nil {
		n = *cur
	}
	n.State, n.LastSeq = to, e.Seq

	switch p := e.Payload.(type) {
	case *events.ContainerCreating:
		if _, ok := s.sandboxes[id]; ok {
			return nil, refuse("the id is a sandbox's")
		}
		sb, ok := s.sandboxes[e.SandboxID]
		if !ok {
			return nil, refuse("sandbox " + e.SandboxID + " does not exist")
		}
		if sb.State != SandboxReady {
			return nil, refuse("sandbox " + e.SandboxID + " is " + sb.State.String())
		}
		cfg := p.GetConfig()
		key := containerKey(e.SandboxID, cfg.GetMetadata())
		if other, ok := s.containerNames[key]; ok {
			return nil, refuse("its name is reserved by container " + other)
		}
		n = Container{
			ID:         id,
			SandboxID:  e.SandboxID,
			State:      to,
			Config:     cfg,
			ImageID:    p.GetImageId(),
			Image:      p.GetImage(),
			ImageRef:   p.GetImageRef(),
			LogPath:    p.GetLogPath(),
			Mounts:     p.GetMounts(),
			User:       p.GetUser(),
			StopSignal: p.GetStopSignal(),
			CreatedAt:  orTime(p.GetCreatedAt(), e),
			FirstSeq:   e.Seq,
			LastSeq:    e.Seq,
		}
		if n.Image == nil {
			n.Image = cfg.GetImage()
		}
		if n.StopSignal == runtimeapi.Signal_SIGNAL_RUNTIME_DEFAULT {
			n.StopSignal = cfg.GetStopSignal()
		}
		if r := cfg.GetLinux().GetResources(); r != nil {
			n.Resources = &runtimeapi.ContainerResources{Linux: r}
		}
		s.containerNames[key] = id
		s.podContainers[e.SandboxID] = append(slices.Clip(s.podContainers[e.SandboxID]), id)
	case *events.ContainerCreated:
		n.Pid = p.GetPid()
		if u := p.GetUser(); u != nil {
			n.User = u
		}
	case *events.ContainerStarted:
		n.Pid = p.GetPid()
		n.StartedAt = orTime(p.GetStartedAt(), e)
	case *events.ContainerExited:
		n.Pid = 0
		n.ExitCode = p.GetExitCode()
		n.FinishedAt = orTime(p.GetFinishedAt(), e)
		n.Reason = p.GetReason()
		n.Message = p.GetMessage()
	case *events.ContainerRemoved:
		delete(s.containers, id)
		delete(s.containerNames, containerKey(cur.SandboxID, cur.Config.GetMetadata()))
		if left := slices.DeleteFunc(slices.Clone(s.podContainers[cur.SandboxID]), func(x string) bool { return x == id }); len(left) > 0 {
			s.podContainers[cur.SandboxID] = left
		} else {
			delete(s.podContainers, cur.SandboxID)
		}
		s.removed.add(id, e.Seq)
		if cur.State == ContainerCreating {
			return nil, nil // never visible: nothing to report
		}
		return cur, nil
	case *events.ContainerResourcesUpdated:
		n.Resources = p.GetResources()
	}
	s.containers[id] = &n
	return nil, nil
}

func (s *State) applyImage(e Event) error {
	var id, name string
	switch p := e.Payload.(type) {
	case *events.ImagePulled:
		id = p.GetImageId()
	case *events.ImageTagged:
		id, name = p.GetImageId(), p.GetName()
	case *events.ImageUntagged:
		id, name = p.GetImageId(), p.GetName()
	case *events.ImageRemoved:
		id = p.GetImageId()
	}
	cur, from := s.images[id], ImageAbsent
	if cur != nil {
		from = ImagePresent
	}
	refuse := func(reason string) error {
		return &TransitionError{Object: "image", ID: id, From: from.String(), Event: e.Type, Reason: reason}
	}
	if _, ok := next(imageTable, from, e.Type); !ok {
		return refuse("")
	}
	var n Image
	if cur != nil {
		n = *cur
	}
	n.LastSeq = e.Seq

	switch p := e.Payload.(type) {
	case *events.ImagePulled:
		uid, username := parseImageUser(p.GetConfig())
		n = Image{
			ID:             id,
			ManifestDigest: p.GetManifestDigest(),
			Size:           p.GetSize(),
			Config:         p.GetConfig(),
			ChainIDs:       p.GetChainIds(),
			Annotations:    p.GetAnnotations(),
			Names:          n.Names, // a refresh keeps the names
			UID:            uid,
			Username:       username,
			FirstSeq:       e.Seq,
			LastSeq:        e.Seq,
		}
		if cur != nil {
			n.FirstSeq = cur.FirstSeq
		}
	case *events.ImageTagged:
		if other, ok := s.imageNames[name]; ok {
			return refuse("name " + name + " points at " + other)
		}
		i, _ := slices.BinarySearch(n.Names, name)
		n.Names = slices.Insert(slices.Clone(n.Names), i, name)
		s.imageNames[name] = id
	case *events.ImageUntagged:
		i, found := slices.BinarySearch(n.Names, name)
		if !found {
			return refuse("name " + name + " does not point at it")
		}
		n.Names = slices.Delete(slices.Clone(n.Names), i, i+1)
		delete(s.imageNames, name)
	case *events.ImageRemoved:
		for _, nm := range cur.Names {
			delete(s.imageNames, nm)
		}
		delete(s.images, id)
		return nil
	}
	s.images[id] = &n
	return nil
}

// parseImageUser reads the User of an OCI image config and splits it as
// CRI wants: "1002" and "1003:1004" give uid 1002 / 1003; "www-data" and
// "www-data:1004" give username "www-data"; empty or unparsable gives
// neither (the kubelet then assumes root).
func parseImageUser(config []byte) (*int64, string) {
	if len(config) == 0 {
		return nil, ""
	}
	var c struct {
		Config struct {
			User string `json:"User"`
		} `json:"config"`
	}
	if err := json.Unmarshal(config, &c); err != nil {
		return nil, ""
	}
	user, _, _ := strings.Cut(c.Config.User, ":")
	if user == "" {
		return nil, ""
	}
	if uid, err := strconv.ParseInt(user, 10, 64); err == nil && uid >= 0 {
		return &uid, ""
	}
	return nil, user
}
