# autorep: `make demo` sets up and runs the main job, `make test` runs the tests.
SHELL := /bin/bash
DATA ?= $(firstword $(realpath $(CURDIR)/../shared/datasets) $(AUTOREP_DATA))
export AUTOREP_DATA := $(if $(AUTOREP_DATA),$(AUTOREP_DATA),$(DATA))
# Go 1.26's SIMD experiment gives the AVX-512 share-arithmetic kernel (package
# ring); without it the scalar kernel is used. Both are tested.
export GOEXPERIMENT ?= simd

.PHONY: deps build demo test fuzz bench

deps:
	bash scripts/install-deps.sh

build: deps
	go build -o bin/autorep ./cmd/autorep

demo: build
	./bin/autorep demo

test: deps
	go vet ./...
	go test -timeout 30m ./...
	GOEXPERIMENT= go test ./ring/...
	bash scripts/fuzz.sh

bench: build
	go test -run '^$$' -bench . -benchtime 1x ./...

fuzz:
	FUZZTIME=30s bash scripts/fuzz.sh
