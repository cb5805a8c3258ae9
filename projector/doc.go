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
// container leaves its ID as a tombstone: no sandbox or container can ever
// be created with it again. Metadata names are reserved from creation until
// removal, so a second sandbox (or container of a sandbox) with the same
// name and attempt is refused.
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
// messages embedded as themselves), and the sorted removed IDs. Derived
// data (indexes, an image's uid and username) is not stored: UnmarshalState
// rebuilds it and, doing so, checks the state's invariants (unique IDs and
// names, containers of existing sandboxes, positions within range),
// refusing an inconsistent snapshot with ErrBadSnapshot. Fields are only
// ever added to the body; a change of meaning is a new version byte, and a
// build refuses versions it does not know (ErrSnapshotVersion), falling
// back to replaying events. testdata/snapshot-v1.bin pins version 1.
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
//  3. That state is stored as the snapshot at N-1 (unless one is there);
//     folding on to the head, the head state is stored as a snapshot too,
//     so the next start reads one snapshot and replays nothing or little.
//  4. Compact(N) drops the records before N and the snapshots older than
//     the one at N-1.
//
// A record the fold refuses stops the policy at that record: it is never
// compacted away (the evidence of the bug stays) and no head snapshot is
// stored past it; Compact reports ErrUnfoldable.
//
// A reader of a compacted journal sees: Load(to) for any to >= N-1 equal to
// what it was before compaction; records before N gone (the journal says
// ErrCompacted), and with them the CRI events they would have produced: a
// subscriber starts from a Store snapshot and the tail, so only one that
// was disconnected across a compaction misses events, which it cannot
// recover. The live store is unaffected.
//
// Tombstones are the one part of the state that only grows: one removed ID
// per removed sandbox or container, kept in snapshots forever.
package projector
