# The README's two commands; each installs what it needs first.
.PHONY: demo test bench build deb install

# Root, for what installs packages, starts Apache or installs the .deb:
# nothing when make runs as root, sudo otherwise (keeping PATH: Go may be
# in /usr/local/go/bin or ~/go/bin), and a clear error when neither.
ASROOT := $(shell if [ "$$(id -u)" = 0 ]; then :; elif command -v sudo >/dev/null 2>&1; then echo 'sudo env PATH=$$PATH'; else echo NOROOT; fi)
define need_root
	@if [ "$(ASROOT)" = NOROOT ]; then echo "make $@: run it as root (it installs Debian packages and starts Apache); sudo is not installed" >&2; exit 1; fi
endef

demo:   ## Apache on 127.0.0.1 with maintgate in front of a backend
	$(need_root)
	$(ASROOT) scripts/demo.sh

test:   ## everything CI runs: gofmt, go vet, go test -race ./..., brief fuzzing
	$(need_root)
	$(ASROOT) scripts/test.sh

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

install: deb  ## make deb, then apt-get install it on this machine (apt needs a path, not a name: realpath)
	$(need_root)
	$(ASROOT) env DEBIAN_FRONTEND=noninteractive apt-get install -y "$$(realpath "$$(ls -t $(DIST)/maintgate_*.deb | head -n 1)")"
