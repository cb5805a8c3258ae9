#!/bin/sh
# Regenerates the Go code of the project's .proto files (make generate).
# Needs protoc (Debian: protobuf-compiler); protoc-gen-go is a Go tool
# dependency pinned in go.mod. The CRI api.proto is imported from the module
# cache under the path its Go package registered it with, so the descriptors
# link against k8s.io/cri-api's own types.
set -eu
cd "$(dirname "$0")/.."
command -v protoc >/dev/null || { apt-get install -y -qq protobuf-compiler >/dev/null; }
inc=$(mktemp -d)
trap 'rm -rf "$inc"' EXIT
cri=$(go list -m -f '{{.Dir}}' k8s.io/cri-api)
mkdir -p "$inc/staging/src/k8s.io/cri-api/pkg/apis/runtime/v1"
# Debian's protoc (3.21) predates the debug_redact field option the CRI uses;
# it only marks fields for redaction in debug output, so it is dropped here.
sed 's/ *\[debug_redact *= *true\]//' "$cri/pkg/apis/runtime/v1/api.proto" \
	>"$inc/staging/src/k8s.io/cri-api/pkg/apis/runtime/v1/api.proto"
gen=$(go tool -n protoc-gen-go)
find . -name '*.proto' -not -path './.git/*' | sort | while read -r p; do
	protoc --plugin=protoc-gen-go="$gen" -I "$inc" -I . \
		--go_out=. --go_opt=module=github.com/logbook-cri/logbook "$p"
done
