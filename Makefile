# roost: `make run` starts the platform with everything embedded;
# `make test` runs the whole suite.

GO        ?= go
BIN       ?= bin/roost
DATA      ?= $(or $(ROOST_DATA),./data)
LISTEN    ?= $(or $(ROOST_LISTEN),127.0.0.1:8080)
FUZZTIME  ?= 20s
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X main.version=$(VERSION)

.PHONY: build run test unit fuzz ts-test web-test screenshots check-generated bench lint clean

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/roost
	CGO_ENABLED=0 $(GO) build -o $(dir $(BIN))roost-sandbox-init ./cmd/roost-sandbox-init
	CGO_ENABLED=0 $(GO) build -o bin/roost-test-agent ./cmd/roost-test-agent

run: build
	./$(BIN) serve --listen $(LISTEN) --data $(DATA) --demo-agent bin/roost-test-agent --warm-pool 1

# The whole suite: vet, every Go test under the race detector, a short
# fixed-time run of each fuzz target, the TypeScript client against a live
# server, the console in headless Chromium, and a check that generated files
# are up to date.
test: unit fuzz ts-test web-test check-generated

unit:
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 30m ./...

fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) ./rpc
	$(GO) test -run '^$$' -fuzz '^FuzzInspect$$' -fuzztime $(FUZZTIME) ./bundles

ts-test: build
	cd clients/typescript && npm ci --no-audit --no-fund --loglevel=error && npm test

# The console: rebuild web/dist and fail if it differs from the committed
# one, then build the binary that embeds it and run the browser tests.
web-test:
	cd web && npm ci --no-audit --no-fund --loglevel=error && npm run build
	@git diff --exit-code --stat -- web/dist && test -z "$$(git ls-files --others --exclude-standard -- web/dist)" \
		|| { echo "web/dist is stale: run npm run build in web and commit"; exit 1; }
	$(MAKE) build
	cd web && ROOST_SCREENSHOTS=$${ROOST_SCREENSHOTS:-$$(mktemp -d)} npm test

# Refresh the screenshots of the console in docs/screenshots.
screenshots: build
	cd web && ROOST_SCREENSHOTS=$(CURDIR)/docs/screenshots npm test

check-generated:
	$(GO) generate ./methods
	@git diff --exit-code -- clients/typescript/src/generated || { echo "generated files are stale: run go generate ./methods and commit"; exit 1; }

bench:
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 30m ./platform/...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

clean:
	rm -rf bin
