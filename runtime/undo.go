package runtime

import (
	"errors"
	"log/slog"
	"os"
)

// Undo is a stack of rollback steps for a command that fails halfway:
// each side effect pushes its inverse as soon as it has happened, and Run
// undoes them last first. A failing step is logged and the others still
// run; recovery at the next start finishes what a step could not.
type Undo struct {
	Log   *slog.Logger
	ID    string
	steps []func() error
}

// Push records the inverse of a side effect just performed.
func (u *Undo) Push(fn func() error) { u.steps = append(u.steps, fn) }

// Run undoes every recorded side effect, last first, and forgets them.
func (u *Undo) Run() {
	for i := len(u.steps) - 1; i >= 0; i-- {
		if err := u.steps[i](); err != nil {
			u.Log.Error("rollback step failed; recovery will retry at the next start", "id", u.ID, "err", err)
		}
	}
	u.steps = nil
}

// RemoveAll is os.RemoveAll that tolerates a path already gone.
func RemoveAll(p string) error {
	if err := os.RemoveAll(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// DirNames lists the names in dir; a missing or unreadable dir is empty
// (the leak scans ask of directories that may not exist yet).
func DirNames(dir string) []string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	out := make([]string, 0, len(ents))
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}
