package network

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// attachment is everything one ADD was given: the configuration's bytes
// and the runtime arguments. It is written durably before ADD runs and
// removed only after a DEL succeeded, so a DEL after any crash runs with
// exactly the arguments of the ADD it undoes, whatever happened to the
// configuration directory since.
type attachment struct {
	Network        string         `json:"network"`
	File           string         `json:"file"`
	Config         []byte         `json:"config"`
	NetNS          string         `json:"netns"`
	IfName         string         `json:"ifName"`
	Args           [][2]string    `json:"args"`
	CapabilityArgs map[string]any `json:"capabilityArgs,omitempty"`
}

// attachmentStore keeps one file per sandbox under dir.
type attachmentStore struct{ dir string }

func (s attachmentStore) path(sandboxID string) string {
	return filepath.Join(s.dir, sandboxID+".json")
}

// put writes the record atomically and durably: a temporary file, fsync,
// rename, fsync of the directory.
func (s attachmentStore) put(sandboxID string, a *attachment) error {
	b, err := json.Marshal(a)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return err
	}
	return writeFileDurable(s.path(sandboxID), b)
}

// get returns the record, or nil when there is none.
func (s attachmentStore) get(sandboxID string) (*attachment, error) {
	b, err := os.ReadFile(s.path(sandboxID))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var a attachment
	if err := json.Unmarshal(b, &a); err != nil {
		return nil, fmt.Errorf("attachment record %s: %w", s.path(sandboxID), err)
	}
	return &a, nil
}

// remove forgets the record; an absent one is fine. No directory fsync: a
// record that survives a crash only makes the next Teardown run DEL again,
// which is harmless.
func (s attachmentStore) remove(sandboxID string) error {
	if err := os.Remove(s.path(sandboxID)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// writeFileDurable replaces path with data so that after a crash the file
// is either the old one or the new one, complete.
func writeFileDurable(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
