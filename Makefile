# powchain: make targets. `make help` lists them.

GO       ?= go
PKGS     ?= ./...
BENCHOUT ?= bench/results/bench-$(shell git rev-parse --short HEAD 2>/dev/null || echo dev).txt
COUNT    ?= 6

.PHONY: help build test test-race test-purego test-arm64 lint fmt generate generate-check bench profile fuzz fuzz-brief clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-15s %s\n", $$1, $$2}'

build: ## build bin/powchain
	$(GO) build -o bin/powchain ./cmd/powchain

test: lint test-race test-purego test-arm64 ## everything CI runs: lint, the suite under -race, the purego build, arm64 under qemu

test-race: ## the whole suite under the race detector
	$(GO) test -race -timeout 20m $(PKGS)

test-purego: ## the suite without any assembly (-tags purego), short mode
	$(GO) test -tags purego -short -timeout 10m $(PKGS)

# The arm64 build under user-mode qemu, which is slow (every SHA2
# instruction is emulated), so it runs a chosen subset in -short mode: every
# armsha2 kernel against generic in hasher (every length, long ranges, the
# fuzz seeds, no allocations), every mining.jsonl row through the engine
# with the auto kernel on two workers, the engine's allocation test, and
# the purego build's kernels; in header mode, every armsha2 kernel against
# crypto/sha256 and on the mainnet headers, the engine's header tests and
# `powchain mine --header` on the mainnet headers (auto: armsha2).
# TestMeasureOrdersKernels is skipped there: qemu emulates the SHA2
# instructions, so armsha2 runs no faster than generic, and the test
# compares their speeds.
QEMU_ARM64 ?= qemu-aarch64-static
test-arm64: ## hasher, engine and the header CLI built for arm64, run under qemu-aarch64-static (skipped without it)
	@if ! command -v $(QEMU_ARM64) >/dev/null 2>&1; then \
	  echo "test-arm64: skipped, $(QEMU_ARM64) is not installed (apt-get install qemu-user-static)"; exit 0; fi; \
	  set -ex; \
	  GOARCH=arm64 $(GO) vet ./hasher/ ./engine/; \
	  GOARCH=arm64 $(GO) vet -tags purego ./hasher/; \
	  GOARCH=arm64 $(GO) test -short -timeout 10m -exec $(QEMU_ARM64) \
	    -run 'ARMSHA2|Kernels|Lookup|Layout|Allocates|Comparable|Header|Mainnet' -skip 'TestMeasureOrdersKernels' ./hasher/; \
	  GOARCH=arm64 $(GO) test -short -timeout 10m -exec $(QEMU_ARM64) \
	    -run 'TestMiningVectorsEveryKernelAndWorkerCount/^hasher=armsha2$$/^workers=2$$' ./engine/; \
	  GOARCH=arm64 $(GO) test -short -timeout 10m -exec $(QEMU_ARM64) -run 'TestMineAllocations|TestMineHeader' ./engine/; \
	  GOARCH=arm64 $(GO) test -short -timeout 10m -exec $(QEMU_ARM64) -run 'TestHeaderMode' ./cmd/powchain/; \
	  GOARCH=arm64 $(GO) test -tags purego -short -timeout 10m -exec $(QEMU_ARM64) ./hasher/

lint: ## gofmt, go vet (also with -tags purego)
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '^hasher/_asm/')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GO) vet -tags purego $(PKGS)

fmt: ## gofmt every Go file
	gofmt -w $$(git ls-files '*.go')

generate: ## regenerate the assembly kernels from hasher/_asm (avo; armsha2 prints arm64 itself)
	cd hasher && $(GO) generate ./...

generate-check: generate ## fail if regenerating the assembly changes anything
	@git diff --exit-code -- 'hasher/*_amd64.s' 'hasher/*_stub_amd64.go' 'hasher/*_layout_amd64.go' 'hasher/*_layout_arm64.go' 'hasher/*_arm64.s' 'hasher/*_stub_arm64.go' || \
	  (echo "generated assembly is stale: run make generate and commit"; exit 1)

bench: ## Go benchmarks, -count $(COUNT), written where benchstat reads them
	@mkdir -p $(dir $(BENCHOUT))
	$(GO) test -run '^$$' -bench . -benchmem -count $(COUNT) ./hasher/ ./bench/ ./engine/ | tee $(BENCHOUT)
	@echo "compare two runs with: benchstat OLD.txt $(BENCHOUT)"

profile: build ## make the profiles in profiles/ (see profiles/README.md)
	./profiles/make-profiles.sh

fuzz: ## run each fuzz target for FUZZTIME (default 30s)
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $${FUZZTIME:-30s} ./engine/pyjson/
	$(GO) test -run '^$$' -fuzz '^FuzzCanonical$$' -fuzztime $${FUZZTIME:-30s} ./engine/pyjson/
	$(GO) test -run '^$$' -fuzz '^FuzzKernels$$' -fuzztime $${FUZZTIME:-30s} ./hasher/
	$(MAKE) fuzz-brief FUZZTIME=$${FUZZTIME:-30s}

fuzz-brief: ## the node's request decoders' fuzz targets for FUZZTIME each (CI: 5s)
	$(GO) test -run '^$$' -fuzz '^FuzzNewTransaction$$' -fuzztime $${FUZZTIME:-5s} ./node/
	$(GO) test -run '^$$' -fuzz '^FuzzAddBlock$$' -fuzztime $${FUZZTIME:-5s} ./node/

clean: ## remove build output
	rm -rf bin
