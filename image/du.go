package image

import (
	"context"
	"fmt"
	"time"
)

// DiskUsage measures the space allocated to the trees at dirs and the
// inodes they use (a hard-linked inode once, across all of them), as Usage
// does for the store; a directory that does not exist counts as empty. The
// runtime uses it for the containers' writable layers, the other half of
// ImageFsInfo. Errors wrap ErrStorage, or ErrCanceled / ErrDeadlineExceeded
// when ctx ends.
func DiskUsage(ctx context.Context, dirs ...string) (Usage, error) {
	now := time.Now()
	total := usageCount{seen: map[[2]uint64]bool{}}
	for _, d := range dirs {
		if err := total.walk(ctx, d); err != nil {
			if ctx.Err() != nil {
				return Usage{}, ctxError(ctx)
			}
			return Usage{}, fmt.Errorf("%w: %w", ErrStorage, err)
		}
	}
	return Usage{Timestamp: now, UsedBytes: uint64(total.bytes), InodesUsed: uint64(len(total.seen))}, nil
}
