# autorep: `make demo` sets up and runs the main job, `make test` runs the tests.
SHELL := /bin/bash
DATA ?= $(firstword $(realpath $(CURDIR)/../shared/datasets) $(AUTOREP_DATA))
export AUTOREP_DATA := $(if $(AUTOREP_DATA),$(AUTOREP_DATA),$(DATA))
# Go 1.26's SIMD experiment gives the AVX-512 share-arithmetic kernel (package
# ring); without it the scalar kernel is used. Both are tested.
export GOEXPERIMENT ?= simd

# Packages whose code shares state between goroutines, run a second time
# under the race detector: the connections and their byte counters
# (transport), the in-process dealer's pairing and prefetched material
# (mpc; its pairing test only means something with -race), the parallel
# gate evaluation (fss), the servers, the network dealer and their
# connection sets (serve/...), the parallel kernels and gradient sums
# (kernel, ring, nn, autograd, reduce), the data loader (data) and the
# progress bar. -short skips the large-n
# exhaustive checks and the OS-process tests: the plain run covers them and
# they add no concurrency. serve's TestConcurrentClients (16 secure
# inferences) overruns its own 180 s deadline under -race on a busy 2-core
# machine, so it runs in the plain pass only. Timings: docs/BENCHMARKS.md,
# "Race detector".
RACE_PKGS := ./transport ./mpc ./fss ./serve/... ./kernel ./ring ./nn ./autograd ./reduce ./data ./internal/progress
RACE_TEST := go test -race -short -skip '^TestConcurrentClients$$' -timeout 20m $(RACE_PKGS)

.PHONY: deps build demo test test-race fuzz bench

deps:
	bash scripts/install-deps.sh

build: deps
	go build -o bin/autorep ./cmd/autorep

demo: build
	./bin/autorep demo

test: deps
	go vet ./...
	go test -timeout 30m ./...
	$(RACE_TEST)
	GOEXPERIMENT= go test ./ring/...
	bash scripts/fuzz.sh

test-race:
	$(RACE_TEST)

bench: build
	go test -run '^$$' -bench . -benchtime 1x ./...

fuzz:
	FUZZTIME=30s bash scripts/fuzz.sh
