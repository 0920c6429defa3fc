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
echo "== staticcheck"
go tool staticcheck ./...
echo "== go test -race"
go test -race -count=1 -timeout 15m ./...
# Fuzzing runs a fixed number of inputs per target, not a fixed time: with
# -fuzztime=10s, Go 1.26's coordinator can fail a target with a bare
# "context deadline exceeded" at the deadline (go.dev/issue/75804, fixed in
# Go 1.27), which CI hit once. The counts give about 8 s per target on a
# 2-core machine; FUZZ_SCALE=10 fuzzes ten times as long.
echo "== fuzz (${FUZZ_SCALE:=1}x the default inputs per target)"
for target in rewritemap:FuzzServe:250000 rewritemap:FuzzParseKey:800000 \
	whitelist:FuzzParse:350000 whitelist:FuzzClientIP:600000 config:FuzzParse:25000 \
	authz/token:FuzzVerify:500000 authz/token:FuzzRoundTrip:500000 \
	authz/session:FuzzDecodeSessionData:45000 \
	authz:FuzzCookieAt:300000 authz:FuzzPathRule:300000 authz:FuzzIsLanguageCode:300000 \
	rewritemap:FuzzParseLine:400000 rewritemap:FuzzParseAddr:400000 \
	flagfile:FuzzParse:250000 flagfile:FuzzStates:30000 authz/lockout:FuzzParseEntry:300000 \
	authz/session/settings:FuzzParseAllow:400000 \
	panel:FuzzHtpasswd:20000 panel:FuzzParseCounters:20000 \
	fleet:FuzzParseLink:100000 fleet:FuzzScrub:150000 fleet:FuzzParseEvent:80000; do
	IFS=: read -r pkg fn n <<<"$target"
	corpus=$pkg/testdata/fuzz/$fn
	before=$(ls "$corpus" 2>/dev/null || true)
	if ! log=$(go test -run='^$' -fuzz="^${fn}\$" -fuzztime="$((n * FUZZ_SCALE))x" "./$pkg/" 2>&1); then
		echo "$log" >&2
		new=$(comm -13 <(echo "$before") <(ls "$corpus" 2>/dev/null || true))
		if [ -n "$new" ]; then
			echo "fuzz $pkg $fn FAILED; the failing input is $corpus/$new" >&2
		else
			echo "fuzz $pkg $fn FAILED without writing a failing input (see the output above)" >&2
		fi
		exit 1
	fi
	echo "fuzz $pkg $fn ok ($((n * FUZZ_SCALE)) inputs)"
done
echo "all checks passed"
