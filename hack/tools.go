//go:build tools

// Package hack pins the Go tools the build uses but no package imports: the
// CRI conformance suite (built with `go test -c sigs.k8s.io/cri-tools/cmd/critest`,
// which has no main package a tool directive could name). crictl and
// protoc-gen-go are tool directives in go.mod.
package hack

import (
	_ "sigs.k8s.io/cri-tools/pkg/benchmark"
	_ "sigs.k8s.io/cri-tools/pkg/framework"
	_ "sigs.k8s.io/cri-tools/pkg/validate"
)
