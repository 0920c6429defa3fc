#!/usr/bin/env bash
# The README's test command: installs what the tests need, then runs every
# check CI runs. Tests that need Apache, PostgreSQL or Django fail (never
# skip) when CI=true and the tool is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/local/go/bin
scripts/deps.sh

echo "== gofmt"
bad=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$bad" ]; then echo "gofmt would change: $bad" >&2; exit 1; fi
echo "== go vet"
go vet ./...
echo "== go test -race"
go test -race -count=1 -timeout 15m ./...
echo "== fuzz (${FUZZTIME:=10s} each)"
for target in rewritemap:FuzzServe rewritemap:FuzzParseKey whitelist:FuzzParse whitelist:FuzzClientIP \
	config:FuzzParse authz/token:FuzzVerify authz/session:FuzzDecodeSessionData; do
	pkg=${target%%:*} fn=${target#*:}
	if ! log=$(go test -run='^$' -fuzz="^${fn}\$" -fuzztime="$FUZZTIME" "./$pkg/" 2>&1); then
		echo "$log" >&2
		echo "fuzz $pkg $fn FAILED (the failing input is in $pkg/testdata/fuzz/$fn/)" >&2
		exit 1
	fi
	echo "fuzz $pkg $fn ok"
done
echo "all checks passed"
