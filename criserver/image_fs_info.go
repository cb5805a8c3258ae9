package criserver

import (
	"context"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/logbook-cri/logbook/runtime/images"
)

// ImageFsInfo reports the space and inodes the image store uses
// (image_filesystems) and those of the containers' writable layers
// (container_filesystems), each with the directory measured as its
// mountpoint.
func (s *ImageService) ImageFsInfo(ctx context.Context, req *runtimeapi.ImageFsInfoRequest) (*runtimeapi.ImageFsInfoResponse, error) {
	if s.deps.Images == nil {
		return nil, notImplemented("ImageFsInfo")
	}
	imgs, ctrs, err := s.deps.Images.FsInfo(ctx)
	if err != nil {
		return nil, err
	}
	return &runtimeapi.ImageFsInfoResponse{
		ImageFilesystems:     []*runtimeapi.FilesystemUsage{criFilesystemUsage(imgs)},
		ContainerFilesystems: []*runtimeapi.FilesystemUsage{criFilesystemUsage(ctrs)},
	}, nil
}

func criFilesystemUsage(u images.FsUsage) *runtimeapi.FilesystemUsage {
	return &runtimeapi.FilesystemUsage{
		Timestamp:  u.Timestamp.UnixNano(),
		FsId:       &runtimeapi.FilesystemIdentifier{Mountpoint: u.Mountpoint},
		UsedBytes:  &runtimeapi.UInt64Value{Value: u.UsedBytes},
		InodesUsed: &runtimeapi.UInt64Value{Value: u.InodesUsed},
	}
}
