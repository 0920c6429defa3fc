#!/usr/bin/env bash
# Benchmarks behind BENCHMARKS.md. Writes raw results to bench/results/ and
# regenerates BENCHMARKS.md and bench/results/roundtrip.png from them.
#
#   scripts/bench.sh              # everything (several minutes)
#   scripts/bench.sh roundtrip    # one part: roundtrip
#
# Round trips are lock-step (write one key line, read one answer), as Apache
# drives a prg: map. maintgate and the floors (a C program and a Go program
# that answer "allow" at once) run side by side and take turns, a batch each,
# so noise hits them alike; the report quotes medians and the median of the
# per-batch ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/local/go/bin
MAINTGATE_BENCH_DEPS=1 scripts/deps.sh

parts=${*:-roundtrip}
BATCH=${BATCH:-5000}
BATCHES=${BATCHES:-20}
out=bench/results
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

go build -o "$work/maintgate" ./cmd/maintgate
go build -o "$work/roundtrip" ./bench/roundtrip
go build -o "$work/goecho" ./bench/goecho
gcc -O2 -o "$work/echo" bench/echo/echo.c

site() { # config for a site in $work/site
	mkdir -p "$work/site"
	head -c 32 /dev/urandom | base64 > "$work/site/token.key"
	chmod 600 "$work/site/token.key"
	cat > "$work/site/maintgate.toml" <<TOML
flag_file = "maintenance"
state_map = "state.map"
whitelist = ["192.168.1.100", "10.0.0.0/8", "2001:db8:1::/48"]
trusted_proxies = ["172.16.0.1"]
[log]
file = "maintgate.log"
level = "info"
[token]
key_file = "token.key"
[session]
store = "django"
database = "sqlite:$work/site/django.db"
secret_key_file = "secret.key"
miss_rate = 50
TOML
	echo "bench-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz" > "$work/site/secret.key"
	echo "old-bench-secret-key-0123456789" > "$work/site/old.key"
	/usr/bin/python3 internal/testsvc/testdata/mksessions.py --db "sqlite:$work/site/django.db" \
		--secret "$(cat "$work/site/secret.key")" --old-secret "$(cat "$work/site/old.key")" > "$work/site/sessions.json"
}

roundtrip() {
	site
	local mg="$work/maintgate" cfg="$work/site/maintgate.toml" cfgq="$work/site/quiet.toml"
	sed 's/^level = "info"/level = "error"/' "$cfg" > "$cfgq"
	local token superuser
	token=$("$mg" token issue -config "$cfg" --ttl 24h --label bench 2>/dev/null)
	superuser=$(/usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["cases"]["superuser"]["cookie"])' < "$work/site/sessions.json")
	local csrf="csrftoken=Zq3kE8vJb1mN7xYc2LpRt5WuA9sDf0GhKoIeVnBmQwErTyUiOpAsDfGhJkLzXcVb"
	local L="$work/lines"
	mkdir -p "$L"
	printf '203.0.113.7 /de/map/  %s\n' "$csrf" > "$L/off"
	printf '203.0.113.7 /static/css/site.css  %s\n' "$csrf" > "$L/static"
	printf '192.168.1.100 /de/map/  %s\n' "$csrf" > "$L/whitelisted"
	printf '203.0.113.7 /de/map/  %s;%%20maintgate_bypass=%s\n' "$csrf" "$token" > "$L/token"
	printf '203.0.113.7 /de/map/  %s;%%20sessionid=%s\n' "$csrf" "$superuser" > "$L/superuser"
	printf '203.0.113.7 /de/map/  %s\n' "$csrf" > "$L/redirect"
	# Floods: never-seen, well-formed session cookies mixed into ordinary
	# traffic (marked "~" so their own latency is reported apart).
	: > "$L/flood10"; : > "$L/flood50"
	for i in $(seq 1 10); do
		if [ "$i" -le 1 ]; then echo "~203.0.113.7 /de/map/  $csrf;%20sessionid=RANDOM-SESSION" >> "$L/flood10"; else cat "$L/whitelisted" >> "$L/flood10"; fi
		if [ "$i" -le 5 ]; then echo "~203.0.113.7 /de/map/  $csrf;%20sessionid=RANDOM-SESSION" >> "$L/flood50"; else cat "$L/whitelisted" >> "$L/flood50"; fi
	done
	local res="$out/roundtrip.jsonl"
	: > "$res"
	for case in off static whitelisted token superuser redirect flood10 flood50; do
		if [ "$case" = off ]; then "$mg" off -config "$cfg" >/dev/null; else "$mg" on -config "$cfg" >/dev/null; fi
		local extra=()
		# The same redirects with logging off: what an INFO line per
		# redirect costs the answer path.
		[ "$case" = redirect ] && extra=(-prog "maintgate_nolog=$mg map -config $cfgq")
		"$work/roundtrip" -lines "$L/$case" -case "$case" -batch "$BATCH" -batches "$BATCHES" \
			-prog "echo=$work/echo" -prog "goecho=$work/goecho" -prog "maintgate=$mg map -config $cfg" "${extra[@]}" >> "$res"
		echo "roundtrip: $case done" >&2
	done
}

fuzz() { # the protocol end to end with 10 million hostile lines
	local lines=${FUZZ_LINES:-10000000} start end
	start=$(date +%s)
	MAINTGATE_FUZZ_LINES=$lines go test -count=1 -timeout 60m -run '^TestProtocolFuzz$' -v ./tests > "$work/fuzz.log" 2>&1 || { cat "$work/fuzz.log"; exit 1; }
	end=$(date +%s)
	{
		echo "## The protocol under 10 million hostile lines"
		echo
		echo "\`MAINTGATE_FUZZ_LINES=$lines go test -run TestProtocolFuzz ./tests\`: random bytes, mutated key lines,"
		echo "NUL, CR and CRLF, invalid UTF-8, 200 KiB lines and a 16 MiB line every 50,000, piped into"
		echo "\`maintgate map\` with a canary line of known answer every 7 lines."
		echo
		echo "Result: $(grep -E '^(--- PASS|--- FAIL)' "$work/fuzz.log" | head -1), $lines lines in $((end - start)) s"
		echo "($(grep -o 'seed [0-9]*' "$work/fuzz.log" | head -1)): one answer per line, no desync, no crash."
	} > "$out/fuzz.md"
}

for p in $parts; do "$p"; done
printf '{"machine": "%s, %s cores, Go %s, %s"}\n' "$(uname -m)" "$(nproc)" "$(go env GOVERSION)" "$(date -u +%F)" > "$out/env.json"
/usr/bin/python3 bench/report.py
