# roost: `make run` starts the platform with everything embedded;
# `make test` runs the whole suite.

GO        ?= go
BIN       ?= bin/roost
DATA      ?= ./data
LISTEN    ?= 127.0.0.1:8080
FUZZTIME  ?= 20s
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X main.version=$(VERSION)

.PHONY: build run test unit fuzz bench lint clean

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/roost
	CGO_ENABLED=0 $(GO) build -o bin/roost-test-agent ./cmd/roost-test-agent

run: build
	./$(BIN) serve --listen $(LISTEN) --data $(DATA) --demo-agent bin/roost-test-agent

# The whole suite: vet, every test under the race detector, then a short
# fixed-time run of each fuzz target.
test: unit fuzz

unit:
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 30m ./...

fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) ./rpc
	$(GO) test -run '^$$' -fuzz '^FuzzInspect$$' -fuzztime $(FUZZTIME) ./bundles

bench:
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 30m ./platform/...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

clean:
	rm -rf bin
