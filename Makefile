# The README's two commands; each installs what it needs first.
.PHONY: demo test bench build

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
	CGO_ENABLED=0 go build -trimpath -ldflags "-X main.version=$(VERSION)" -o $(OUT) ./cmd/maintgate
