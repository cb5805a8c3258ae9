package oom

import "errors"

var (
	// ErrClosed is returned by Add after Close.
	ErrClosed = errors.New("oom: watcher closed")

	// ErrAlreadyWatched is returned by Add for an id that is being
	// watched already.
	ErrAlreadyWatched = errors.New("oom: id already watched")
)
