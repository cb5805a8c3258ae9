package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/logbook-cri/logbook/journal"
	"github.com/logbook-cri/logbook/projector"
)

type replayCmd struct {
	at   uint64
	json bool
}

func (c *replayCmd) flags(fs *flag.FlagSet) {
	fs.Uint64Var(&c.at, "at", 0, "the journal position to replay to (default: the last record)")
	fs.BoolVar(&c.json, "json", false, "JSON: the CRI statuses of every object")
}

// run rebuilds the projection at --at from the source alone (the newest
// snapshot at or before it, then the records after it) and prints every
// pod sandbox, container and image as it was there, objects still being
// created included.
func (c *replayCmd) run(ctx context.Context, s *source, out io.Writer) error {
	st, err := projector.Load(ctx, s, c.at, nil)
	if err != nil {
		return err
	}
	creatingSbs, creatingCtrs := st.Creating()
	sbs := append(st.ListSandboxes(nil), creatingSbs...)
	ctrs := append(st.ListContainers(nil), creatingCtrs...)
	imgs := st.ListImages(nil)
	if c.json {
		return replayJSON(out, st.Seq(), sbs, ctrs, imgs)
	}
	fmt.Fprintf(out, "state at seq %d: %d pod sandboxes, %d containers, %d images\n\n", st.Seq(), len(sbs), len(ctrs), len(imgs))
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "POD ID\tNAMESPACE/NAME\tATTEMPT\tSTATE\tCREATED\tIP\tNETWORK")
	for _, sb := range sbs {
		m := sb.Config.GetMetadata()
		ip, net := "-", "-"
		if sb.Network != nil {
			ip = sb.Network.GetIp()
			net = "up"
			if sb.NetworkTornDown {
				net = "torn down"
			}
		} else if sb.NetNSPath == "" {
			net = "host"
		}
		fmt.Fprintf(w, "%s\t%s/%s\t%d\t%s\t%s\t%s\t%s\n", shortID(sb.ID), m.GetNamespace(), m.GetName(), m.GetAttempt(),
			sb.State, fmtTime(sb.CreatedAt), ip, net)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "CONTAINER ID\tPOD ID\tNAME\tATTEMPT\tSTATE\tEXIT\tREASON\tIMAGE")
	for _, ct := range ctrs {
		st := ct.CRIStatus()
		exit := "-"
		if ct.State == projector.ContainerExited {
			exit = fmt.Sprint(st.GetExitCode())
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", shortID(ct.ID), shortID(ct.SandboxID),
			ct.Config.GetMetadata().GetName(), ct.Config.GetMetadata().GetAttempt(), ct.State, exit,
			orDash(st.GetReason()), orDash(st.GetImage().GetUserSpecifiedImage()))
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "IMAGE ID\tNAMES\tSIZE")
	for _, img := range imgs {
		fmt.Fprintf(w, "%s\t%s\t%d\n", shortDigest(img.ID), orDash(strings.Join(img.Names, ",")), img.Size)
	}
	return w.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func replayJSON(out io.Writer, seq uint64, sbs []*projector.Sandbox, ctrs []*projector.Container, imgs []*projector.Image) error {
	msg := func(m proto.Message) json.RawMessage {
		b, _ := protojson.Marshal(m)
		return b
	}
	type obj struct {
		State  string          `json:"state"`
		Status json.RawMessage `json:"status"`
	}
	doc := struct {
		Seq        uint64            `json:"seq"`
		Sandboxes  []obj             `json:"sandboxes"`
		Containers []obj             `json:"containers"`
		Images     []json.RawMessage `json:"images"`
	}{Seq: seq, Sandboxes: []obj{}, Containers: []obj{}, Images: []json.RawMessage{}}
	for _, sb := range sbs {
		doc.Sandboxes = append(doc.Sandboxes, obj{sb.State.String(), msg(sb.CRIStatus())})
	}
	for _, c := range ctrs {
		doc.Containers = append(doc.Containers, obj{c.State.String(), msg(c.CRIStatus())})
	}
	for _, img := range imgs {
		doc.Images = append(doc.Images, msg(img.CRI()))
	}
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

var _ journal.Source = (*source)(nil)
