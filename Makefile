# logbook: two commands do everything on a fresh Debian 12 machine (as root):
#   make run    install what is missing, build, run logbookd in the foreground
#   make test   install, build, run unit, integration and conformance tests
SHELL := /bin/bash
export PATH := /usr/local/go/bin:$(PATH)
GO ?= go
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
CMDS := logbookd logbook logbook-shim

.PHONY: all deps build tools run test bench chaos soak generate fuzz clean FORCE
all: build

deps:
	@./hack/deps.sh

build: $(addprefix bin/,$(CMDS)) bin/logbook-pause

bin/logbookd bin/logbook: FORCE
	@mkdir -p bin
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $@ ./cmd/$(notdir $@)

# The shim runs once per container: static, no cgo, nothing but the
# standard library and x/sys linked in (a few MiB of RSS).
bin/logbook-shim: FORCE
	@mkdir -p bin
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '-s -w $(LDFLAGS)' -o $@ ./cmd/logbook-shim

# The sandbox infra process: static C, a few kilobytes of RSS per pod.
bin/logbook-pause: cmd/logbook-pause/pause.c
	@mkdir -p bin
	cc -static -Os -Wall -o $@ $<

# Test tools: the CRI conformance suite and crictl from sigs.k8s.io/cri-tools
# (pinned in go.mod), and the offline test registry.
tools: bin/crictl bin/critest bin/testimages
bin/crictl: FORCE
	@mkdir -p bin
	$(GO) build -o $@ sigs.k8s.io/cri-tools/cmd/crictl
bin/critest: FORCE
	@mkdir -p bin
	$(GO) test -c -o $@ sigs.k8s.io/cri-tools/cmd/critest
bin/testimages: FORCE
	@mkdir -p bin
	$(GO) build -o $@ ./testdata/testimages

run: deps build
	@./hack/run.sh

test: deps build tools
	@./hack/test.sh

bench: deps build tools
	@./hack/bench.sh

# Hardening drivers against a real logbookd: SIGKILL under churn with
# every restart checked (ROUNDS, SEED), and 1,000 pods in waves with the
# daemon's figures. Both exit non-zero on a violation.
chaos: deps build tools
	@./hack/chaos.sh

soak: deps build tools
	@./hack/soak.sh

fuzz: deps
	@FUZZTIME=$${FUZZTIME:-5m} ./hack/fuzz.sh

generate:
	./hack/protoc.sh

clean:
	rm -rf bin _out

FORCE:
