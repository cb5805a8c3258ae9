package main

import (
	"context"

	"github.com/logbook-cri/logbook/journal"
	"github.com/logbook-cri/logbook/journal/events"
	"github.com/logbook-cri/logbook/projector"
)

// names remembers the human names of sandboxes and containers: from the
// state before the first record shown, then from every creating event
// seen. Removed objects keep their names, so a removal still prints one.
type names struct {
	pods       map[string]string // sandbox ID -> namespace/name
	containers map[string]string // container ID -> name
}

// namesAt seeds the names from the state at seq (0 or an unreadable
// state: none; names then come from the records as they pass).
func namesAt(ctx context.Context, src journal.Source, seq uint64) *names {
	n := &names{pods: map[string]string{}, containers: map[string]string{}}
	if seq == 0 {
		return n
	}
	st, err := projector.Load(ctx, src, seq, func(journal.Record, error) {})
	if err != nil {
		return n
	}
	sbs, ctrs := st.Creating()
	sbs = append(sbs, st.ListSandboxes(nil)...)
	ctrs = append(ctrs, st.ListContainers(nil)...)
	for _, sb := range sbs {
		m := sb.Config.GetMetadata()
		n.pods[sb.ID] = m.GetNamespace() + "/" + m.GetName()
	}
	for _, c := range ctrs {
		n.containers[c.ID] = c.Config.GetMetadata().GetName()
	}
	return n
}

func (n *names) learn(e projector.Event) {
	switch p := e.Payload.(type) {
	case *events.SandboxCreating:
		m := p.GetConfig().GetMetadata()
		n.pods[e.SandboxID] = m.GetNamespace() + "/" + m.GetName()
	case *events.ContainerCreating:
		n.containers[e.ContainerID] = p.GetConfig().GetMetadata().GetName()
	}
}

func (n *names) pod(id string) string {
	if id == "" {
		return "-"
	}
	if name, ok := n.pods[id]; ok {
		return name
	}
	return shortID(id)
}

func (n *names) container(id string) string {
	if id == "" {
		return "-"
	}
	if name, ok := n.containers[id]; ok {
		return name
	}
	return shortID(id)
}
