# The README's two commands; each installs what it needs first.
.PHONY: demo test bench build deb

demo:   ## Apache on 127.0.0.1 with maintgate in front of a backend
	scripts/demo.sh

test:   ## everything CI runs: gofmt, go vet, go test -race ./..., brief fuzzing
	scripts/test.sh

bench:  ## benchmarks: bench/results/ and BENCHMARKS.md
	scripts/bench.sh

# The version `maintgate version` prints: the tag, commits since, -dirty.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
OUT ?= maintgate

build:  ## ./maintgate (OUT=path to put it elsewhere), static, version stamped
	CGO_ENABLED=0 go build -trimpath -ldflags "-X main.version=$(VERSION) $(EXTRA_LDFLAGS)" -o $(OUT) ./cmd/maintgate

# The Debian package: dpkg-deb alone (packaging/build-deb.sh says why).
# The binary is make build's, without the symbol table and DWARF (-s -w:
# Debian ships stripped binaries; panics still print their stack).
DIST ?= dist
deb:    ## $(DIST)/maintgate_VERSION_ARCH.deb from the static binary
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	$(MAKE) -s build OUT="$$tmp/maintgate" VERSION="$(VERSION)" EXTRA_LDFLAGS="-s -w" && \
	packaging/build-deb.sh "$$tmp/maintgate" "$(VERSION)" "$(DIST)"
