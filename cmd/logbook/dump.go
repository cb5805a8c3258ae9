package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/logbook-cri/logbook/journal"
	"github.com/logbook-cri/logbook/projector"
)

// filter selects records: sandbox and container ID prefixes, a type or a
// type prefix ending in "." (e.g. "container.").
type filter struct {
	pod, container, typ string
}

func (f *filter) flags(fs *flag.FlagSet) {
	fs.StringVar(&f.pod, "pod", "", "only records of the pod sandbox with this ID (or ID prefix)")
	fs.StringVar(&f.container, "container", "", "only records of the container with this ID (or ID prefix)")
	fs.StringVar(&f.typ, "type", "", `only records of this type ("container.exited"), or of this aggregate ("container.")`)
}

func (f *filter) match(r journal.Record) bool {
	if f.pod != "" && (r.SandboxID == "" || !strings.HasPrefix(r.SandboxID, f.pod)) {
		return false
	}
	if f.container != "" && (r.ContainerID == "" || !strings.HasPrefix(r.ContainerID, f.container)) {
		return false
	}
	if f.typ != "" {
		if strings.HasSuffix(f.typ, ".") {
			return strings.HasPrefix(r.Type, f.typ)
		}
		return r.Type == f.typ
	}
	return true
}

// printer writes records as table rows or JSON lines.
type printer struct {
	out    io.Writer
	json   bool
	names  *names
	header bool
}

func (p *printer) print(r journal.Record) error {
	if p.json {
		b, err := toJSON(r)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(p.out, "%s\n", b)
		return err
	}
	if !p.header {
		p.header = true
		fmt.Fprintf(p.out, "%-8s %-27s %-26s %-32s %-20s %s\n", "SEQ", "TIME", "TYPE", "POD", "CONTAINER", "DETAILS")
	}
	e, err := projector.Decode(r)
	details := ""
	if err != nil {
		details = "UNDECODABLE: " + err.Error()
	} else {
		p.names.learn(e)
		details = summary(e)
	}
	_, err = fmt.Fprintf(p.out, "%-8d %-27s %-26s %-32s %-20s %s\n", r.Seq, fmtTime(r.Time), r.Type,
		p.names.pod(r.SandboxID), p.names.container(r.ContainerID), details)
	return err
}

type dumpCmd struct {
	from, to uint64
	json     bool
	filter
}

func (c *dumpCmd) flags(fs *flag.FlagSet) {
	fs.Uint64Var(&c.from, "from", 0, "first sequence number (default: the first retained)")
	fs.Uint64Var(&c.to, "to", 0, "last sequence number (default: the last)")
	fs.BoolVar(&c.json, "json", false, "JSON lines: the envelope and the decoded payload")
	c.filter.flags(fs)
}

func (c *dumpCmd) run(ctx context.Context, s *source, out io.Writer) error {
	if c.to != 0 && c.from > c.to {
		return usagef("dump: --from %d is after --to %d", c.from, c.to)
	}
	p := &printer{out: out, json: c.json, names: namesAt(ctx, s, before(c.from))}
	return s.Read(ctx, c.from, c.to, func(r journal.Record) error {
		if !c.match(r) {
			return nil
		}
		return p.print(r)
	})
}

// before is the position whose state names the objects of records from
// from on.
func before(from uint64) uint64 {
	if from <= 1 {
		return 0
	}
	return from - 1
}
