# stasis: build, test, lint, bench, demo. Every target installs what it needs
# first (scripts/install-deps, idempotent and quick once done).
SHELL := /bin/bash
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
export CGO_ENABLED := 0

.PHONY: all build test lint bench demo deps clean

all: build

deps:
	@scripts/install-deps

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/stasis ./cmd/stasis

# examples/kubernetes is a module of its own (the Kubernetes API types stay out of stasis's
# dependencies): its tests run after the main module's, whatever those gave.
EXAMPLE_MODULES := examples/kubernetes

test: deps build lint
	@echo "$(GO) test -count=1 -timeout 30m ./..."; \
	status=0; $(GO) test -count=1 -timeout 30m ./... || status=1; \
	for m in $(EXAMPLE_MODULES); do echo "cd $$m && $(GO) test -count=1 ./..."; \
	  (cd $$m && $(GO) test -count=1 ./...) || status=1; done; exit $$status

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	@# Linux-only code stays in _linux.go files with stubs, so the rest builds anywhere.
	GOOS=darwin $(GO) vet ./...
	@for m in $(EXAMPLE_MODULES); do echo "cd $$m && $(GO) vet ./..."; (cd $$m && $(GO) vet ./...) || exit 1; done

bench: deps build
	$(GO) test -count=1 -run '^$$' -bench . -benchtime 1x -timeout 30m ./... | tee bin/bench.txt

demo: deps build
	@scripts/demo

clean:
	rm -rf bin
