package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/logbook-cri/logbook/journal"
	"github.com/logbook-cri/logbook/projector"
)

// errProblems: verify found problems and printed them (exit status 1).
var errProblems = errors.New("verification found problems")

type verifyCmd struct {
	max int
}

func (c *verifyCmd) flags(fs *flag.FlagSet) {
	fs.IntVar(&c.max, "max", 20, "print at most this many problems")
}

// run checks the journal: sequence numbers dense from the first retained
// record to the last; every record decodable; the state at the first
// retained record rebuildable (its base snapshot); every record a legal
// transition of the state before it. For a file it also runs bbolt's and
// the journal's own consistency checks.
func (c *verifyCmd) run(ctx context.Context, s *source, out io.Writer) error {
	first, last, err := s.Bounds(ctx)
	if err != nil {
		return err
	}
	problems := 0
	report := func(format string, args ...any) {
		problems++
		if problems <= c.max {
			fmt.Fprintf(out, "problem: "+format+"\n", args...)
		}
	}
	if s.file != nil {
		if err := s.file.Check(); err != nil {
			report("%s: %v", s.name, err)
		}
	}
	if first > last {
		fmt.Fprintf(out, "%s: empty journal (next seq %d)\n", s.name, first)
		return verdict(out, problems)
	}

	// The state just before the first retained record: a snapshot must
	// hold it once anything was compacted away.
	var st *projector.State
	if first > 1 {
		st, err = projector.Load(ctx, s, first-1, nil)
		if err != nil {
			report("state before the first retained record %d cannot be rebuilt: %v", first, err)
			st = nil
		}
	} else {
		st = projector.NewState()
	}

	next, records, undecodable, illegal := first, 0, 0, 0
	err = s.Read(ctx, first, last, func(r journal.Record) error {
		records++
		if r.Seq != next {
			report("sequence gap: expected %d, found %d", next, r.Seq)
		}
		next = r.Seq + 1
		e, err := projector.Decode(r)
		if err != nil {
			undecodable++
			report("record %d (%s): %v", r.Seq, r.Type, err)
			return nil
		}
		if st == nil {
			return nil
		}
		if err := st.Apply(e); err != nil {
			illegal++
			report("record %d (%s): %v", r.Seq, r.Type, err)
		}
		return nil
	})
	if err != nil {
		report("reading: %v", err)
	}
	if next != last+1 {
		report("records end at %d, the journal says it ends at %d", next-1, last)
	}
	fmt.Fprintf(out, "%s: %d records (%d..%d), %d undecodable, %d illegal transitions\n",
		s.name, records, first, last, undecodable, illegal)
	return verdict(out, problems)
}

func verdict(out io.Writer, problems int) error {
	if problems == 0 {
		fmt.Fprintln(out, "ok")
		return nil
	}
	fmt.Fprintf(out, "%d problem(s)\n", problems)
	return errProblems
}
