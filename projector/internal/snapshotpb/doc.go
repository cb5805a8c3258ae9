// Package snapshotpb is the generated protobuf body of a projection
// snapshot (snapshot.proto): every live object of a projector.State, field
// for field, and the tombstones of removed IDs with their removal
// positions and the state's tombstone horizon. Only package projector uses
// it; the envelope around it (magic, version, CRC) is described in
// projector/doc.go. Regenerate with `make generate`.
package snapshotpb
