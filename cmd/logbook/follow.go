package main

import (
	"context"
	"errors"
	"flag"
	"io"

	"github.com/logbook-cri/logbook/journal"
)

type followCmd struct {
	from uint64
	json bool
	filter
}

func (c *followCmd) flags(fs *flag.FlagSet) {
	fs.Uint64Var(&c.from, "from", 0, "replay from this sequence number first (default: only new records)")
	fs.BoolVar(&c.json, "json", false, "JSON lines: the envelope and the decoded payload")
	c.filter.flags(fs)
}

// run tails the journal until ctx ends (Ctrl-C) or the source goes away.
func (c *followCmd) run(ctx context.Context, s *source, out io.Writer) error {
	from := c.from
	if from == 0 {
		_, last, err := s.Bounds(ctx)
		if err != nil {
			return err
		}
		from = last + 1
	}
	cur, err := s.Tail(ctx, from)
	if err != nil {
		return err
	}
	defer cur.Close()
	p := &printer{out: out, json: c.json, names: namesAt(ctx, s, before(from))}
	for {
		r, err := cur.Next(ctx)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, journal.ErrClosed) {
				return nil
			}
			return err
		}
		if !c.match(r) {
			continue
		}
		if err := p.print(r); err != nil {
			return err
		}
	}
}
