# The README's two commands; each installs what it needs first.
.PHONY: demo test bench build

demo:   ## Apache on 127.0.0.1 with maintgate in front of a backend
	scripts/demo.sh

test:   ## everything CI runs: gofmt, go vet, go test -race ./..., brief fuzzing
	scripts/test.sh

bench:  ## benchmarks: bench/results/ and BENCHMARKS.md
	scripts/bench.sh

build:
	CGO_ENABLED=0 go build -trimpath -o maintgate ./cmd/maintgate
