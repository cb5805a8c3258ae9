package container

import (
	"encoding/json"
	"os"
	"path/filepath"
)

// RuntimeSpec returns the OCI spec (config.json) a container was created
// with, for verbose statuses; false once the container is removed.
func (s *Service) RuntimeSpec(id string) (json.RawMessage, bool) {
	if _, ok := s.cfg.Projection.Container(id); !ok {
		return nil, false
	}
	b, err := os.ReadFile(filepath.Join(s.cfg.Layout.Bundle(id), "config.json"))
	if err != nil || !json.Valid(b) {
		return nil, false
	}
	return b, true
}
