// Package projector folds the lifecycle journal into what the CRI reports:
// pod sandboxes, containers and images, their lists and filters, and the
// GetContainerEvents messages. It is the read side of logbook's event
// sourcing. Nothing in it does I/O except Load and Compact, which read and
// write a journal through small interfaces defined here.
//
// # The fold
//
// A State is the fold of a journal prefix: Apply(e) moves it from position
// e.Seq-1 (or any earlier one) to e.Seq. Apply depends on nothing but the
// state and the event: where a payload lacks a timestamp the record's own
// time stands in, never the clock, so a replay of the same records gives
// the same state, field for field, on any machine and at any time. That is
// invariant 2 of the design brief, and the randomized test checks it after
// every run: long random histories folded incrementally (in random batches,
// through clones and private subscriber copies) equal a fresh replay and a
// snapshot round trip.
//
// Apply refuses an event, and leaves the state exactly as it was, when the
// envelope is malformed (ErrBadEvent), when it does not come after the
// state's position (ErrOutOfOrder), or when the object it names cannot take
// it (a *TransitionError, matching ErrIllegalTransition). Every check comes
// before the first write. The live Store, and Load when asked to, step over
// a refused record (logging and counting it: it means a bug upstream) and
// advance their position past it, so they still equal a replay, which steps
// over it the same way.
//
// # Immutability
//
// The *Sandbox, *Container and *Image a State hands out are never written
// again: a transition copies the object, changes the copy and replaces the
// map entry. Their nested messages, slices and maps are the decoded event
// payloads themselves, shared and read-only. So a reader may keep an object
// as long as it likes, a CRI handler needs no lock once it has it, and
// Clone is cheap: it copies the maps (one entry per live object, plus the
// recent part of the tombstones) and shares everything else. A Store's
// subscriber takes a Clone and folds it forward privately. The CRI messages
// built by CRI() and CRIStatus() are new at the top level and share the
// rest with the view: treat them as read-only below the top level.
//
// # State machines
//
// lifecycle.go draws the three state machines and holds them as tables:
// sandbox Creating -> Ready -> NotReady -> Removed (and Creating -> Removed,
// a rolled back creation); container Creating -> Created -> Running ->
// Exited -> Removed (with Creating -> Removed, Created -> Exited for a start
// that failed or a stop before start, and Created -> Removed; container.oom,
// an OOM kill that need not end the container, is legal in Created, Running
// and Exited and changes nothing); image
// Absent <-> Present. A (state, event) pair without a row is illegal, and so
// is a row whose guard fails: container.creating needs its sandbox Ready;
// sandbox.stopped needs every container of the pod Exited; sandbox.removed
// needs them all removed; network teardown happens once, after the stop;
// resources change only in Ready (sandbox) or Created and Running
// (container); image.tagged needs a free name and image.untagged a name on
// that image. Objects in Creating are internal (no list or status lookup
// returns them; recovery finds them with Creating). A removed sandbox or
// container leaves its ID as a tombstone: no sandbox or container can be
// created with it again for as long as the journal retains the record
// that removed it (see Tombstones below). Metadata names are reserved
// from creation until removal, so a second sandbox (or container of a
// sandbox) with the same name and attempt is refused.
//
// # What the CRI fields are computed from
//
//	PodSandbox(Status).id, metadata,     sandbox.creating: envelope ID, config
//	  labels, annotations, runtime_handler  (echoed exactly), runtime_handler
//	state                                SANDBOX_READY in Ready, else NOTREADY
//	created_at                           sandbox.creating created_at (record time if 0)
//	network.ip, additional_ips           sandbox.ready network, until
//	                                     sandbox.network_torn_down (then empty);
//	                                     empty for host-network pods
//	linux.namespaces.options             config.linux.security_context
//	                                     .namespace_options (all POD if unset)
//	Container(Status).id, pod_sandbox_id envelope IDs of container.creating
//	metadata, labels, annotations        container.creating config (echoed exactly)
//	image                                container.creating image (the user's
//	                                     ImageSpec, user_specified_image included;
//	                                     the config's if absent)
//	image_ref                            container.creating image_ref, else image_id
//	image_id                             container.creating image_id: the config
//	                                     digest PullImage returned
//	state                                Created/Running/Exited -> CONTAINER_CREATED/
//	                                     RUNNING/EXITED (UNKNOWN: no event yields it)
//	created_at, started_at, finished_at  container.creating created_at, container.
//	                                     started started_at, container.exited
//	                                     finished_at (each: record time if 0)
//	exit_code, message                   container.exited, once Exited
//	reason                               container.exited reason; if empty,
//	                                     "Completed" (code 0) or "Error"
//	mounts, log_path                     container.creating (resolved by the runtime;
//	                                     log_path absolute)
//	user                                 container.created's user when set (resolved
//	                                     in the mounted rootfs), else container.creating's
//	stop_signal                          container.creating, else the config's
//	resources                            the config's linux resources, replaced by
//	                                     container.resources_updated
//	Image.id, size                       image.pulled image_id (config digest), size
//	repo_tags, repo_digests              names from image.tagged, sorted, split on
//	                                     "@" (a name with "@" is a digest)
//	uid, username                        the config's User split on ":": numeric
//	                                     first part is uid, otherwise username
//	spec                                 {image: id, annotations: the manifest's}
//
// Image lookups accept the full ID, the ID without "sha256:", a stored name,
// a name in its normalized form ("busybox" is docker.io/library/busybox:latest)
// and a unique prefix of the ID's hex. List filters take IDs exactly or as a
// unique prefix; results come in creation order.
//
// # CRI events
//
// CRIEvents maps a just-applied event to GetContainerEvents messages
// (container.created, .started, .exited, .removed; sandbox.ready as CREATED
// then STARTED, .stopped, .removed), each with the complete PodSandboxStatus
// and the status of every container of the pod at that journal position.
// Because a subscriber folds its own Clone, a slow subscriber computes the
// same messages later from the same records: nothing depends on when.
//
// # Snapshot format
//
// MarshalBinary writes, in this order: the magic "LBPS"; one version byte
// (1); the CRC32C (Castagnoli) of the body, big-endian; the body, a
// protobuf message logbook.projector.v1.State (internal/snapshotpb/
// snapshot.proto) marshalled deterministically: the position, every live
// sandbox, container and image field for field in creation order (CRI
// messages embedded as themselves), the sorted removed IDs with the
// positions of the records that removed them, and the tombstone horizon.
// A snapshot written before removal positions were kept has neither: its
// tombstones read as removed at the snapshot's own position. Derived
// data (indexes, an image's uid and username) is not stored: UnmarshalState
// rebuilds it and, doing so, checks the state's invariants (unique IDs and
// names, containers of existing sandboxes, positions within range),
// refusing an inconsistent snapshot with ErrBadSnapshot. Fields are only
// ever added to the body; a change of meaning is a new version byte, and a
// build refuses versions it does not know (ErrSnapshotVersion), falling
// back to replaying events. testdata/snapshot-v1.bin pins version 1 as
// first written (no removal positions), testdata/snapshot-v1-positions.bin
// with them.
//
// # Retention: snapshot plus tail
//
// The journal keeps a tail of recent records and, just before it, a
// snapshot of the state the dropped records folded into. Compact(ctx, j,
// window, now) applies the policy:
//
//  1. N is the first record younger than window (by append time; if the
//     clock stepped back, later records that look old are kept too), or
//     last+1 when every record is old. N is lowered to the position of any
//     open subscriber's cursor (CursorReporter): a live subscriber never
//     loses a record it has yet to read.
//  2. The state at N-1 is built from the journal itself, never from the
//     live store (which is ahead): the newest snapshot at or before N-1,
//     folded forward. Events after the newest snapshot are only ever
//     dropped once they are inside a new snapshot.
//  3. That state, less the tombstones of objects removed before N (which
//     leaves none: every one was made by a record before N), is stored as
//     the snapshot at N-1, replacing one stored there (the head snapshot
//     of an earlier pass, say, which still holds them); folding on to the
//     head, the head state is stored as a snapshot too, so the next start
//     reads one snapshot and replays nothing or little.
//  4. Compact(N) drops the records before N and the snapshots older than
//     the one at N-1.
//
// A record the fold refuses stops the policy at that record: it is never
// compacted away (the evidence of the bug stays) and no head snapshot is
// stored past it; Compact reports ErrUnfoldable.
//
// A reader of a compacted journal sees: Load(to) for any to >= N-1 equal to
// what it was before compaction except for the tombstones of objects
// removed before N, which are gone, and the state's horizon, now N (see
// Tombstones); records before N gone (the journal says ErrCompacted), and
// with them the CRI events they would have produced: a subscriber starts
// from a Store snapshot and the tail, so only one that was disconnected
// across a compaction misses events, which it cannot recover. The live
// store forgets the same tombstones when the daemon tells it the journal's
// new first record (Store.ForgetRemovedBefore, after each pass), and is
// otherwise unaffected.
//
// # Tombstones
//
// The tombstones exist to catch a bug: the runtime makes IDs of 256
// random bits, so a journal that creates a removed ID again was written
// wrongly, and the fold refuses the record. Kept forever they would be the
// one part of the state that only grows (a node running 10,000 short pods
// a day would add megabytes a day to the daemon and to every snapshot),
// so a tombstone lives exactly as long as the record that made it: the
// retention policy forgets it with that record. Each one remembers the
// journal position of its removal record, not its time: Compact cuts the
// journal at a position N (the window's edge, lowered to the oldest open
// cursor and to a record it cannot fold), and a record's time does not
// order records (a clock may step back), while "removed before N" is
// exactly "its removal record was dropped". A position is also a varint of
// 3 or 4 bytes in a snapshot where a time would take 9.
//
// ForgetRemovedBefore(N) moves a state's horizon to N and drops the
// tombstones below it. Every state agrees: Compact applies it to the
// snapshot at N-1 (and so to the head snapshot folded from it); Load
// applies the journal's first retained record, whatever the snapshot it
// starts from remembers (a checkpoint taken before the pass, say); the
// live store applies it after each pass, and the states that follow the
// store (its Snapshot clones, which subscribers and the metrics follower
// fold privately, and states attached with Store.Attach) adopt the
// store's horizon at their next fold. So a replay of the compacted journal
// still equals the live store and every follower that has reached the
// same position, tombstones included. A state behind its horizon (a
// follower still folding older records) keeps every tombstone until its
// fold reaches N-1, as the store did at those positions. The horizon is
// part of the state (and of its snapshot); a follower's fold also reads
// its store's, so when a follower forgets depends on when the store did,
// but what it holds at a position once both have passed the horizon does
// not (the randomized test checks it).
//
// The price is the detector's reach: a re-created ID is refused while its
// removal record is retained, and accepted after (a replay of the
// compacted journal would have no ground to refuse it). IDUsed, which
// recovery asks before removing a leaked cgroup, answers the same way.
// A record that re-creates an ID removed before N, folded by the store (or
// a follower) before it forgets and by a replay of the compacted journal
// (or a follower) after, is refused by the one and accepted by the other:
// the one way folds of the same records can differ, and only on a journal
// that is wrong anyway. A
// snapshot written before removal positions were kept counts its
// tombstones as removed at its own position: a state loaded from it keeps
// them until a pass goes past it, which may be longer than a fresh Load
// would keep them, never shorter.
//
// idSet keeps the tombstones so that Clone stays cheap (it runs under the
// store's read lock for every new subscriber): a shared base plus a small
// recent map per copy, Clone copying at most a quarter. Forgetting builds
// a new base of the survivors (a Go map never shrinks), O(tombstones) once
// per pass, under the store's write lock.
package projector
