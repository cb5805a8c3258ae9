package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set by the build (-ldflags -X main.version=...).
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	var ue usageError
	switch {
	case err == nil:
	case errors.As(err, &ue):
		fmt.Fprintln(os.Stderr, "logbook:", err)
		os.Exit(2)
	case errors.Is(err, errProblems):
		os.Exit(1) // verify printed what it found
	default:
		fmt.Fprintln(os.Stderr, "logbook:", err)
		os.Exit(1)
	}
}

// usageError is a bad command line (exit status 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

const usage = `usage: logbook [--socket PATH | --file PATH] journal <dump|follow|replay|verify> [flags]
       logbook version

Reads logbookd's lifecycle journal, from a running daemon (--socket, default
/run/logbook/logbook.sock) or from a journal file (--file, e.g. a copy).
Run "logbook journal <command> -h" for a command's flags.
`

// run is main without the process: tests call it.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("logbook", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var src sourceFlags
	fs.StringVar(&src.socket, "socket", "", "logbookd's socket (default "+defaultSocket+")")
	fs.StringVar(&src.file, "file", "", "a journal file to read instead of a running daemon's")
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return usageError{err.Error()}
	}
	rest := fs.Args()
	if len(rest) == 0 {
		fs.Usage()
		return usagef("no command")
	}
	switch rest[0] {
	case "version":
		fmt.Fprintln(stdout, "logbook", version)
		return nil
	case "journal":
	default:
		return usagef("unknown command %q", rest[0])
	}
	if len(rest) < 2 {
		return usagef("journal: which command? dump, follow, replay or verify")
	}
	cmd, cmdArgs := rest[1], rest[2:]
	var c command
	switch cmd {
	case "dump":
		c = &dumpCmd{}
	case "follow":
		c = &followCmd{}
	case "replay":
		c = &replayCmd{}
	case "verify":
		c = &verifyCmd{}
	default:
		return usagef("journal: unknown command %q", cmd)
	}
	cfs := flag.NewFlagSet("logbook journal "+cmd, flag.ContinueOnError)
	cfs.SetOutput(stderr)
	c.flags(cfs)
	if err := cfs.Parse(cmdArgs); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return usageError{err.Error()}
	}
	if cfs.NArg() > 0 {
		return usagef("journal %s: unexpected argument %q", cmd, cfs.Arg(0))
	}
	s, err := src.open(ctx)
	if err != nil {
		return err
	}
	defer s.close()
	return c.run(ctx, s, stdout)
}

// command is one journal subcommand.
type command interface {
	flags(fs *flag.FlagSet)
	run(ctx context.Context, s *source, out io.Writer) error
}
