package images

import (
	"context"
	"fmt"
	"time"

	"github.com/logbook-cri/logbook/image"
)

// FsUsage is one filesystem of ImageFsInfo: where it is and what logbook
// uses of it.
type FsUsage struct {
	// Mountpoint is the directory measured (the kubelet finds the
	// filesystem from it).
	Mountpoint string
	// Timestamp is when it was measured.
	Timestamp time.Time
	// UsedBytes is the space allocated to logbook's files there.
	UsedBytes uint64
	// InodesUsed counts their inodes.
	InodesUsed uint64
}

// FsInfo is ImageFsInfo: the image store (blobs and snapshots) and the
// containers' writable layers, each measured at most every few seconds
// (a kubelet asks every ten or so; a walk of a large tree is not free).
func (s *Service) FsInfo(ctx context.Context) (images, containers FsUsage, err error) {
	u, err := s.cfg.Store.Usage(ctx)
	if err != nil {
		return FsUsage{}, FsUsage{}, fmt.Errorf("image filesystem usage: %w", err)
	}
	images = FsUsage{Mountpoint: s.cfg.Store.Root(), Timestamp: u.Timestamp, UsedBytes: u.UsedBytes, InodesUsed: u.InodesUsed}
	c, err := s.containerUsage(ctx)
	if err != nil {
		return FsUsage{}, FsUsage{}, fmt.Errorf("container filesystem usage: %w", err)
	}
	containers = FsUsage{Mountpoint: s.containersDir, Timestamp: c.Timestamp, UsedBytes: c.UsedBytes, InodesUsed: c.InodesUsed}
	return images, containers, nil
}

// containerUsage measures the writable layers, or serves the last measure
// while it is younger than UsageInterval.
func (s *Service) containerUsage(ctx context.Context) (image.Usage, error) {
	s.usageMu.Lock()
	defer s.usageMu.Unlock()
	if !s.ctrUsage.Timestamp.IsZero() && time.Since(s.ctrUsage.Timestamp) < s.cfg.UsageInterval {
		return s.ctrUsage, nil
	}
	u, err := image.DiskUsage(ctx, s.containersDir)
	if err != nil {
		return image.Usage{}, err
	}
	s.ctrUsage = u
	return u, nil
}
