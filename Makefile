# dakkio — common tasks. `make help` lists them.
GO      ?= go
BIN     ?= bin/dakkio
PKGS    ?= ./...
FUZZTIME ?= 10s

.PHONY: help build run deps test fmt vet fuzz bench bench-go clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

build: ## build bin/dakkio (static, no cgo)
	CGO_ENABLED=0 $(GO) build -o $(BIN) ./cmd/dakkio

run: build ## run a single node: HTTP on :8080, data in ./data
	./$(BIN) serve

deps: ## install (as root with apt) or name the programs the tests drive (scripts/test-deps.sh)
	@scripts/test-deps.sh

test: deps vet ## gofmt check, go vet, then every test with the race detector
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) test -race -count=1 -timeout 20m $(PKGS)

fmt: ## format the code
	gofmt -w $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')

vet: ## go vet
	$(GO) vet $(PKGS)

fuzz: ## run every fuzz target for FUZZTIME each
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

bench: ## ingest and query benchmark (see cmd/dakkio-bench; BENCH_FLAGS=... to change the workload)
	$(GO) build -o $(BIN) ./cmd/dakkio && $(GO) run ./cmd/dakkio-bench --binary $(BIN) $(BENCH_FLAGS)

bench-go: ## the Go benchmarks of the store, the HTTP API and PromQL (raw query, batch parse, block codec...)
	$(GO) test -run '^$$' -bench . -benchmem ./store/... ./httpapi/... ./promapi/... ./internal/...

.PHONY: cluster docker docker-test

cluster: build ## run a 3-node cluster on 127.0.0.1 in the foreground (HTTP :8081-8083; see scripts/cluster.sh)
	DAKKIO_BIN=$(BIN) scripts/cluster.sh

docker: ## build bin/dakkio-linux (static) and the image dakkio:dev (FROM scratch)
	mkdir -p bin/docker-data
	CGO_ENABLED=0 GOOS=linux $(GO) build -o bin/dakkio-linux ./cmd/dakkio
	docker build -t dakkio:dev .

docker-test: ## build the image, start docker-compose.yml's 3 nodes, check them through each node, remove them
	scripts/docker-test.sh

clean: ## remove build output
	rm -rf bin

.PHONY: jepsen jepsen-quick jepsen-prove jepsen-soak jepsen-chaos-build

JEPSEN_FLAGS ?=
# The chaos suite's binary: a normal build plus the clock hook the clock
# nemesis sets (-tags chaosclock, node/chaosclock.go); bin/dakkio has none.
JEPSEN_BIN ?= bin/dakkio-chaos
# jepsen-quick's seed picks which of the newer cells join its fixed core;
# by default it changes every day, so CI covers them all over time.
JEPSEN_SEED ?= $(shell date -u +%Y%j)
DURATION ?= 1h
SOAK_WORKLOAD ?= aggregate

jepsen-chaos-build:
	CGO_ENABLED=0 $(GO) build -tags chaosclock -o $(JEPSEN_BIN) ./cmd/dakkio

jepsen: jepsen-chaos-build ## chaos suite: every workload × nemesis, 5 nodes in network namespaces (root, iproute2, iptables; see jepsen/README.md)
	$(GO) run ./jepsen matrix --binary $(JEPSEN_BIN) $(JEPSEN_FLAGS)

jepsen-quick: jepsen-chaos-build ## chaos suite: a fixed core plus newer cells chosen by JEPSEN_SEED, under 10 minutes (CI)
	$(GO) run ./jepsen matrix --quick --seed $(JEPSEN_SEED) --binary $(JEPSEN_BIN) --duration 40s --hold 8s $(JEPSEN_FLAGS)

jepsen-prove: ## chaos suite against a deliberately broken build: each checker must catch its bug (CI)
	CGO_ENABLED=0 $(GO) build -tags 'chaosbugs chaosclock' -o bin/dakkio-chaosbugs ./cmd/dakkio
	$(GO) run ./jepsen prove --binary bin/dakkio-chaosbugs --duration 25s --hold 8s $(JEPSEN_FLAGS)

jepsen-soak: jepsen-chaos-build ## chaos suite: one long run (DURATION=1h) of SOAK_WORKLOAD under the mixed nemesis
	$(GO) run ./jepsen run --workload $(SOAK_WORKLOAD) --nemesis mixed --duration $(DURATION) --binary $(JEPSEN_BIN) $(JEPSEN_FLAGS)
