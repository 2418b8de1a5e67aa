# peerlink — the two commands a newcomer needs are `make demo` and `make test`.
GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
BIN     := bin/peerlink

.PHONY: build demo test test-short bench chaos vet fmt clean cross release install

build:
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) .

# Hub, broker and two agents in one process on ./peerlink-demo, console on
# http://127.0.0.1:8181.
demo: build
	./$(BIN) demo --dir ./peerlink-demo

# The whole suite, race detector on, end-to-end tests included.
test:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 20m ./...

# Unit tests only (skips the end-to-end package's long cases).
test-short:
	$(GO) test -short -count=1 ./...

# Benchmark command (not a test): builds the binary, runs hub and agents as
# separate processes on temp folders, prints a table and writes
# bench/results.md.
bench: build
	$(GO) run ./bench -bin $(BIN) -out bench/results.md

vet:
	$(GO) vet ./...

# The agent must also build on Windows and macOS (portable fallbacks) and
# on 64-bit ARM Linux: a binary for each in bin/, and go vet of every
# package, tests included. TestCrossPlatformBuild checks the same in make test.
CROSS := windows/amd64 darwin/arm64 linux/arm64

cross:
	@for p in $(CROSS); do \
		os=$${p%/*}; arch=$${p#*/}; ext=; [ $$os = windows ] && ext=.exe; \
		echo "GOOS=$$os GOARCH=$$arch: build bin/peerlink-$$os-$$arch$$ext, vet ./..."; \
		GOOS=$$os GOARCH=$$arch CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/peerlink-$$os-$$arch$$ext . || exit 1; \
		GOOS=$$os GOARCH=$$arch CGO_ENABLED=0 $(GO) vet ./... || exit 1; \
	done

# Release binaries: one static binary per platform in dist/, named with the
# version (git describe, or VERSION=...), which `peerlink version` prints,
# and SHA256SUMS beside them (check with `sha256sum -c SHA256SUMS`).
RELEASE := linux/amd64 linux/arm64 darwin/arm64 windows/amd64

release:
	@rm -rf dist && mkdir -p dist
	@for p in $(RELEASE); do \
		os=$${p%/*}; arch=$${p#*/}; ext=; [ $$os = windows ] && ext=.exe; \
		out=dist/peerlink-$(VERSION)-$$os-$$arch$$ext; echo "build $$out"; \
		GOOS=$$os GOARCH=$$arch CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w $(LDFLAGS)" -o $$out . || exit 1; \
	done
	cd dist && sha256sum peerlink-* > SHA256SUMS && cat SHA256SUMS

# Installs bin/peerlink as $(PREFIX)/bin/peerlink and, on a systemd host,
# the hub's and agent's units (not enabled: see "Install as a service" in
# the README).
PREFIX ?= /usr/local

install: build
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/peerlink
	@if [ -d /etc/systemd/system ] || [ -n "$(DESTDIR)" ]; then \
		install -D -m 0644 deploy/systemd/peerlink-hub.service $(DESTDIR)/etc/systemd/system/peerlink-hub.service; \
		install -D -m 0644 deploy/systemd/peerlink-agent.service $(DESTDIR)/etc/systemd/system/peerlink-agent.service; \
		echo "installed $(PREFIX)/bin/peerlink and the systemd units peerlink-hub and peerlink-agent (not enabled)"; \
	fi

fmt:
	gofmt -w $$(git ls-files '*.go')

# A demo killed while a file was locked leaves immutable copies, which rm
# cannot remove: the flags go first.
clean:
	-chattr -R -i peerlink-demo 2>/dev/null
	rm -rf bin dist peerlink-demo

# The randomized fault harness (issue 14): seeded schedules of file work
# and faults on a hub and agents behind emulated links, each checked for
# convergence and lost data once healed. A short set by default; replay
# one with `make chaos CHAOS='-seed 42 -steps 40'`, or run a long batch
# with CHAOS='-schedules 500'.
CHAOS ?= -schedules 5 -steps 20

chaos: build
	$(GO) run ./chaos -bin $(BIN) $(CHAOS)
