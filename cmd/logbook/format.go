package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/logbook-cri/logbook/journal"
	"github.com/logbook-cri/logbook/journal/events"
	"github.com/logbook-cri/logbook/projector"
)

// shortID is the first 13 characters of an ID, as crictl prints them.
func shortID(id string) string {
	if len(id) > 13 {
		return id[:13]
	}
	if id == "" {
		return "-"
	}
	return id
}

func fmtTime(ns int64) string {
	if ns == 0 {
		return "-"
	}
	return time.Unix(0, ns).UTC().Format("2006-01-02T15:04:05.000000Z")
}

// summary is a one-line description of a payload, for tables.
func summary(e projector.Event) string {
	switch p := e.Payload.(type) {
	case *events.SandboxCreating:
		m := p.GetConfig().GetMetadata()
		s := fmt.Sprintf("pod=%s/%s uid=%s attempt=%d", m.GetNamespace(), m.GetName(), m.GetUid(), m.GetAttempt())
		if p.GetNetnsPath() == "" {
			s += " hostNetwork"
		}
		if p.GetRuntimeHandler() != "" {
			s += " handler=" + p.GetRuntimeHandler()
		}
		return s
	case *events.SandboxReady:
		s := fmt.Sprintf("pid=%d", p.GetPid())
		if ip := p.GetNetwork().GetIp(); ip != "" {
			s += " ip=" + ip
		}
		return s
	case *events.SandboxStopped:
		return ""
	case *events.SandboxNetworkTornDown:
		return ""
	case *events.SandboxRemoved:
		return reason(p.GetReason())
	case *events.SandboxResourcesUpdated:
		return ""
	case *events.ContainerCreating:
		m := p.GetConfig().GetMetadata()
		return fmt.Sprintf("name=%s attempt=%d image=%s", m.GetName(), m.GetAttempt(), imageName(p))
	case *events.ContainerCreated:
		return fmt.Sprintf("pid=%d", p.GetPid())
	case *events.ContainerStarted:
		return fmt.Sprintf("pid=%d", p.GetPid())
	case *events.ContainerExited:
		s := fmt.Sprintf("exit=%d reason=%s", p.GetExitCode(), p.GetReason())
		if p.GetMessage() != "" {
			s += fmt.Sprintf(" message=%q", p.GetMessage())
		}
		return s
	case *events.ContainerRemoved:
		return reason(p.GetReason())
	case *events.ContainerResourcesUpdated:
		return ""
	case *events.ContainerOOM:
		return fmt.Sprintf("oom_kills=%d", p.GetOomKills())
	case *events.ImagePulled:
		return fmt.Sprintf("id=%s size=%d", shortDigest(p.GetImageId()), p.GetSize())
	case *events.ImageTagged:
		return fmt.Sprintf("%s -> %s", p.GetName(), shortDigest(p.GetImageId()))
	case *events.ImageUntagged:
		return fmt.Sprintf("%s -x %s", p.GetName(), shortDigest(p.GetImageId()))
	case *events.ImageRemoved:
		return "id=" + shortDigest(p.GetImageId())
	}
	return ""
}

func reason(r string) string {
	if r == "" {
		return ""
	}
	return fmt.Sprintf("reason=%q", r)
}

func imageName(p *events.ContainerCreating) string {
	if n := p.GetImage().GetUserSpecifiedImage(); n != "" {
		return n
	}
	if n := p.GetImage().GetImage(); n != "" {
		return n
	}
	return p.GetImageId()
}

func shortDigest(d string) string {
	d = strings.TrimPrefix(d, "sha256:")
	if len(d) > 12 {
		d = d[:12]
	}
	return d
}

// jsonRecord is one record as a JSON line: the envelope and the decoded
// payload (or the raw payload and the error, when it cannot be decoded).
type jsonRecord struct {
	Seq         uint64          `json:"seq"`
	Time        string          `json:"time"`
	Type        string          `json:"type"`
	SandboxID   string          `json:"sandbox_id,omitempty"`
	ContainerID string          `json:"container_id,omitempty"`
	Payload     json.RawMessage `json:"payload,omitempty"`
	RawPayload  []byte          `json:"raw_payload,omitempty"`
	Error       string          `json:"error,omitempty"`
}

func toJSON(r journal.Record) ([]byte, error) {
	out := jsonRecord{
		Seq: r.Seq, Time: time.Unix(0, r.Time).UTC().Format(time.RFC3339Nano), Type: r.Type,
		SandboxID: r.SandboxID, ContainerID: r.ContainerID,
	}
	if e, err := projector.Decode(r); err != nil {
		out.RawPayload, out.Error = r.Payload, err.Error()
	} else if b, err := protojson.Marshal(e.Payload); err != nil {
		out.RawPayload, out.Error = r.Payload, err.Error()
	} else {
		out.Payload = b
	}
	return json.Marshal(out)
}
