// Package eventstream turns the lifecycle journal into the CRI event stream
// (GetContainerEvents): one Subscription per client, each a journal cursor
// and a private projection folded as the cursor reads.
//
// # One cursor and one projection per subscriber
//
// A broadcaster that pushes events into per-client queues must choose, when
// a client stops reading, between blocking the writers, dropping events and
// queueing without bound. A subscription does none of the three: it owns a
// cursor into the journal (package journal), which is nothing but a
// position, and a projector.State of its own. Next reads the next records
// at the subscription's own pace, folds each into the private state and
// builds the record's CRI messages from that state with State.CRIEvents, so
// every message carries the PodSandboxStatus and the ContainerStatus of
// every container of the pod exactly as they were at that record, however
// late the subscriber reads it. A stalled client costs its position and
// nothing else: the appenders and the other subscribers never wait for it,
// and when it reads again its cursor catches up from disk, in order,
// without a gap (the retention policy never compacts past an open cursor:
// the price of a client stalled longer than the retention window is that
// the journal keeps its records on disk while it stays connected).
//
// The private state starts as a Clone of the live store (Subscribe: events
// from now on) or as projector.Load at the client's last seen position
// (Resume: every event after it, replayed from the journal, then live
// ones). Either way it is at position P and the cursor starts at P+1, so
// the fold is gapless and the messages are the ones the live store would
// have produced at each record. Exits and OOM kills that recovery journals
// after a restart are ordinary records, so they reach a resumed client like
// any other.
//
// A record the fold refuses (a bug upstream, which the live store logs and
// counts) produces no message and is stepped over, as the live store steps
// over it, so the private state stays equal to the live one. So does the
// retention policy's forgetting of old tombstones (see package projector):
// a private state follows the live store's (Snapshot's copies do by
// themselves, a Feed attaches Resume's) and forgets what the store forgot
// with the next record it folds. A subscription lives as long as its
// client, days for a kubelet; without that its private state would keep
// every removed ID of those days.
//
// # Positions: how a client resumes
//
// The CRI's ContainerEventResponse has no sequence number, and none of its
// fields is free for one: the statuses' labels and annotations must echo
// the pod's config, and created_at is the transition's time. So each
// message carries its record's sequence number as a protobuf field the CRI
// does not define (SeqField, 100000, a varint): the wire format's own way
// to extend a message. Every CRI client skips it as an unknown field and
// sees exactly the CRI message; a client that wants it declares the field
// in its copy of the message, or, in Go, reads it with SeqOf (the generated
// types keep unknown fields). A record that yields two messages
// (sandbox.ready: CREATED, then STARTED) gives both the same number.
//
// Position reports the record the subscription has folded last, messages
// or not. A client that keeps the larger of the position at subscription
// (the daemon sends it as a response header) and the number of every
// message it has processed, and resumes after it, gets every later message
// exactly once. (Having processed the CREATED of a sandbox.ready but not
// its STARTED, it resumes after the number minus one and skips the
// CREATED it already has.)
//
// # Goroutines
//
// A Subscription starts none. Next runs on the caller's goroutine and
// returns when its context or the subscription's ends; Close may come from
// any goroutine and makes a blocked Next return.
package eventstream
