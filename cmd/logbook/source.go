package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/logbook-cri/logbook/journal"
	"github.com/logbook-cri/logbook/journal/remote"
)

const (
	defaultSocket = "/run/logbook/logbook.sock"
	defaultFile   = "/var/lib/logbook/journal.db"
)

type sourceFlags struct {
	socket, file string
}

// source is an open journal: a running daemon's through its socket, or a
// file opened read-only.
type source struct {
	journal.Source
	// file is set for a local file: verify also runs bbolt's own check.
	file  *journal.Journal
	name  string
	close func()
}

// open picks the source: --file, else --socket, else the default socket if
// a daemon answers on it, else the default file.
func (f sourceFlags) open(ctx context.Context) (*source, error) {
	if f.file != "" && f.socket != "" {
		return nil, usagef("--file and --socket are exclusive")
	}
	if f.file != "" {
		return openFile(f.file)
	}
	if f.socket != "" {
		return dialSocket(ctx, f.socket)
	}
	s, err := dialSocket(ctx, defaultSocket)
	if err == nil {
		return s, nil
	}
	if _, statErr := os.Stat(defaultFile); statErr == nil {
		return openFile(defaultFile)
	}
	return nil, fmt.Errorf("no running daemon at %s (%v) and no journal at %s; use --socket or --file", defaultSocket, err, defaultFile)
}

func openFile(path string) (*source, error) {
	j, err := journal.Open(path, journal.Options{ReadOnly: true, LockTimeout: time.Second})
	if err != nil {
		if errors.Is(err, journal.ErrLocked) {
			return nil, fmt.Errorf("%w; a running daemon owns it: read it through its socket (--socket) or from a copy", err)
		}
		return nil, err
	}
	return &source{Source: j, file: j, name: path, close: func() { _ = j.Close() }}, nil
}

// dialSocket connects to a daemon and checks it answers (Bounds), so a
// dead socket falls back to the file rather than failing later.
func dialSocket(ctx context.Context, path string) (*source, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, err
	}
	conn, err := grpc.NewClient("unix://"+path, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, err
	}
	c := remote.NewClient(conn)
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, _, err := c.Bounds(pctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("daemon at %s: %w", path, err)
	}
	return &source{Source: c, name: path, close: func() { _ = conn.Close() }}, nil
}
