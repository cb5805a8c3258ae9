package main

import "errors"

var (
	// ErrLockFile: inputs.lock is malformed (wrong field count, a sum that
	// is not 64 hex digits, a duplicate name, a size that is not a number).
	ErrLockFile = errors.New("malformed inputs.lock")

	// ErrUnknownInput: a recipe asked for an input that inputs.lock does not
	// pin.
	ErrUnknownInput = errors.New("input not pinned in inputs.lock")

	// ErrInputMissing: an input is absent from the cache and the build runs
	// offline, so it may not be downloaded.
	ErrInputMissing = errors.New("input missing from the cache")

	// ErrChecksum: a downloaded or cached input does not have the pinned
	// size and sha256.
	ErrChecksum = errors.New("input does not match its pinned sha256")

	// ErrBadEntry: a layer entry is unusable: an absolute or escaping path,
	// a path given twice, a hard link group without content or with two
	// different contents, a file under a path that is not a directory.
	ErrBadEntry = errors.New("bad layer entry")

	// ErrLibraryNotFound: a shared library an ELF binary needs is in none of
	// the pinned packages.
	ErrLibraryNotFound = errors.New("shared library not found in the pinned packages")

	// ErrBusyboxConfig: the busybox configuration, after `make oldconfig`,
	// lacks a setting the images need (static, no standalone shell, ...), or
	// the built binary lacks an applet the conformance suite runs.
	ErrBusyboxConfig = errors.New("busybox configuration unusable for the test images")

	// ErrRepoConflict: two different manifests would be served under one
	// repository path and tag (the registry drops the host of a reference).
	ErrRepoConflict = errors.New("two images map onto one repository tag")

	// ErrNotLoopback: serve was asked to listen on a non-loopback address.
	ErrNotLoopback = errors.New("address is not a loopback address")

	// ErrNoRepo: the logbook source tree (which holds the image inputs) was
	// not found above the working directory and --repo was not given.
	ErrNoRepo = errors.New("logbook source tree not found")

	// ErrUsage: bad command line.
	ErrUsage = errors.New("usage")
)
