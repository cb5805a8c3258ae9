package runtime

import (
	"encoding/json"
	"fmt"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// ImageConfig reads the execution parameters (USER, ENV, ENTRYPOINT, CMD,
// WORKDIR, STOPSIGNAL) of an image config as the image.pulled event stored
// it (OCI JSON; Docker's is the same), for oci's spec generation.
func ImageConfig(raw []byte) (ocispec.ImageConfig, error) {
	var img ocispec.Image
	if err := json.Unmarshal(raw, &img); err != nil {
		return ocispec.ImageConfig{}, fmt.Errorf("image config: %w", err)
	}
	return img.Config, nil
}
