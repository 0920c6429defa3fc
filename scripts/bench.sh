#!/usr/bin/env bash
# Benchmarks behind BENCHMARKS.md. Writes raw results to bench/results/ and
# regenerates BENCHMARKS.md and bench/results/roundtrip.png from them.
#
#   scripts/bench.sh                  # everything (about a quarter of an hour)
#   scripts/bench.sh apache memory    # some parts: roundtrip gobench fuzz apache django memory checker panel fleet counters
#   BEFORE=f40e4cd scripts/bench.sh counters   # round trips of an older build beside this one (AFTER=commit: instead of the tree)
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

parts=${*:-roundtrip gobench fuzz apache django memory checker panel fleet}
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
stats_file = "stats.prom"
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

# sites N: a copy of the site's config in $work/sites$N with N sites
# s01..sNN, each with a whitelist entry of its own, its own flag and state
# map beside it; the token key and session store are the site's.
sites() {
	local n=$1 d="$work/sites$1" i
	mkdir -p "$d"
	sed -e "s|^key_file = \"token.key\"|key_file = \"$work/site/token.key\"|" \
		-e "s|^secret_key_file = \"secret.key\"|secret_key_file = \"$work/site/secret.key\"|" \
		-e "s|^file = \"maintgate.log\"|file = \"$d/maintgate.log\"|" \
		"$work/site/maintgate.toml" > "$d/maintgate.toml"
	for i in $(seq 1 "$n"); do
		# s05 is in every set: the lines name it.
		[ "$n" -eq 1 ] && i=5
		printf '\n[sites.s%02d]\nwhitelist = ["198.51.100.%d"]\n' "$i" "$i" >> "$d/maintgate.toml"
	done
	"$work/maintgate" config check -config "$d/maintgate.toml" > /dev/null
}

# sitecases MODE CSRF PLACE...: cached paths whose key line names a site
# (fifth field), through a map with one site configured (site_*) and one
# with ten (site10_*), each run as the other cases are, beside the floors:
# the site lookup is a map read, whatever the count. (Two maps in one run
# would not compare: the roundtrip driver favours one position over
# another by more than the difference sought.)
sitecases() {
	local mode=$1 L="$work/lines" csrf=$2 n path
	shift 2
	sites 1
	sites 10
	for path in static whitelisted; do
		local line='203.0.113.7 /static/css/site.css'
		[ "$path" = whitelisted ] && line='192.168.1.100 /de/map/'
		for n in 1 10; do
			local case=site_$path
			[ "$n" = 10 ] && case=site10_$path
			printf '%s  %s s05\n' "$line" "$csrf" > "$L/$case"
			"$mg" on -config "$work/sites$n/maintgate.toml" >/dev/null
			maps "$work/sites$n/maintgate.toml"
			"$@" "$work/roundtrip" -mode "$mode" -lines "$L/$case" -case "$case" -batch "$BATCH" -batches "$BATCHES" \
				-prog "echo=$work/echo" -prog "goecho=$work/goecho" \
				"${mapargs[@]}" >> "$res"
			echo "roundtrip: $mode $case done" >&2
		done
	done
}

# maps CONFIG sets mapargs, the -prog arguments of the map ($mg); with
# RT_BEFORE (a binary), also that one as maintgate_before, first when
# RT_BEFORE_FIRST=1.
maps() {
	mapargs=(-prog "maintgate=$mg map -config $1")
	if [ -n "${RT_BEFORE:-}" ]; then
		local b=(-prog "maintgate_before=$RT_BEFORE map -config $1")
		if [ "${RT_BEFORE_FIRST:-}" = 1 ]; then mapargs=("${b[@]}" "${mapargs[@]}"); else mapargs+=("${b[@]}"); fi
	fi
}

# roundtrip: every path, pinned and unpinned, into bench/results/roundtrip.jsonl;
# RT_MAINTGATE and RT_OUT name another binary and results file, RT_BEFORE
# a second binary run beside it (counters).
roundtrip() {
	site
	local mg=${RT_MAINTGATE:-$work/maintgate} cfg="$work/site/maintgate.toml" cfgq="$work/site/quiet.toml"
	sed 's/^level = "info"/level = "error"/' "$cfg" > "$cfgq"
	local token superuser i
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
	local res=${RT_OUT:-$out/roundtrip.jsonl}
	: > "$res"
	# Twice: every process pinned to one CPU (the CPU work of a round trip,
	# what the target is judged on), then placed by the scheduler as Apache
	# runs it (where a program that sleeps in read(2) also pays the other
	# CPU's wake-up).
	local cpu=$(($(nproc) - 1)) mode
	for mode in pinned unpinned; do
		local place=()
		[ "$mode" = pinned ] && place=(taskset -c "$cpu")
		for case in off static whitelisted token superuser redirect flood10 flood50; do
			if [ "$case" = off ]; then "$mg" off -config "$cfg" >/dev/null; else "$mg" on -config "$cfg" >/dev/null; fi
			local extra=()
			# The same redirects with logging off: what an INFO line per
			# redirect costs the answer path.
			[ "$case" = redirect ] && [ -z "${RT_BEFORE:-}" ] && extra=(-prog "maintgate_nolog=$mg map -config $cfgq")
			maps "$cfg"
			"${place[@]}" "$work/roundtrip" -mode "$mode" -lines "$L/$case" -case "$case" -batch "$BATCH" -batches "$BATCHES" \
				-prog "echo=$work/echo" -prog "goecho=$work/goecho" "${mapargs[@]}" "${extra[@]}" >> "$res"
			echo "roundtrip: $mode $case done" >&2
		done
		sitecases "$mode" "$csrf" "${place[@]}"
	done
}

# counters (issue 12): the round trips of roundtrip through the build
# BEFORE (a commit: the map before it counted its answers and wrote
# stats_file) and the tree (or the commit AFTER), counters on (stats_file
# written every 10 s), both maps in the same runs beside the floors, so the
# load of the moment falls on both alike; each run twice, the maps in
# either order (the driver favours one position), RUNS times, into
# bench/results/counters.jsonl with the order and run on each row.
counters() {
	local before=${BEFORE:-f40e4cd} runs=${RUNS:-1} run first c
	for c in before ${AFTER:+after}; do
		local rev=$before
		[ "$c" = after ] && rev=$AFTER
		mkdir -p "$work/$c"
		git archive "$rev" | tar -x -C "$work/$c"
		(cd "$work/$c" && go build -o "$work/maintgate-$c" ./cmd/maintgate)
	done
	local head=${AFTER:-$(git describe --always --dirty)}
	[ -n "${AFTER:-}" ] || cp "$work/maintgate" "$work/maintgate-after"
	: > "$out/counters.jsonl"
	for run in $(seq 1 "$runs"); do
		for first in 0 1; do
			rm -rf "$work/site" "$work/sites1" "$work/sites10" # a fresh site and session database each time
			RT_MAINTGATE=$work/maintgate-after RT_BEFORE=$work/maintgate-before RT_BEFORE_FIRST=$first \
				RT_OUT=$work/counters.jsonl roundtrip
			/usr/bin/python3 -c 'import json,sys
for l in open(sys.argv[1]):
    r = json.loads(l); r.update(before=sys.argv[2], after=sys.argv[3], before_first=sys.argv[4] == "1", run=int(sys.argv[5])); print(json.dumps(r))' \
				"$work/counters.jsonl" "$(git rev-parse --short "$before")" "$head" "$first" "$run" >> "$out/counters.jsonl"
			echo "counters: run $run (before first: $first) done" >&2
		done
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

# --- End to end through Apache, the Django baseline, memory, the checker.
# Each runs one TestBench* of tests/bench_apache_test.go (skipped unless
# MAINTGATE_BENCH=1), which writes raw records to bench/results/<part>.jsonl;
# the figures in bench/results/<part>.md are computed from those records
# here. Knobs: ROUNDS, DURATION (per wrk run), CONNS, SESSIONS, CHECKER_RUNS.

benchtest() { # benchtest TestName [VAR=value...]: one benchmark test, log in $work
	local name=$1
	shift
	env MAINTGATE_BENCH=1 MAINTGATE_BENCH_OUT="$PWD/$out" "$@" \
		go test -count=1 -timeout 30m -run "^$name\$" -v ./tests > "$work/$name.log" 2>&1 ||
		{ tail -60 "$work/$name.log"; echo "bench: $name failed" >&2; exit 1; }
	echo "bench: $name done" >&2
}

apache() {
	benchtest TestBenchApache MAINTGATE_BENCH_ROUNDS="${ROUNDS:-15}" MAINTGATE_BENCH_DURATION="${DURATION:-1s}" MAINTGATE_BENCH_CONNS="${CONNS:-16}"
	/usr/bin/python3 - "$out/apache.jsonl" > "$out/apache.md" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
runs = [r for r in rows if "rps" in r]
extra = {r["kind"]: r for r in rows if "kind" in r}
med = statistics.median
by = {}
for r in runs:
    by.setdefault((r["variant"], r["path"]), []).append(r)
rounds = max(r["round"] for r in runs) + 1
one = runs[0]
paths = ["static", "proxied"]
def ratio(a, b, path):
    """Median and range of the per-round ratios a/b (same round, back to back)."""
    ra = {r["round"]: r["rps"] for r in by[(a, path)]}
    rb = {r["round"]: r["rps"] for r in by[(b, path)]}
    xs = [ra[k] / rb[k] for k in ra if k in rb]
    return med(xs), min(xs), max(xs)
labels = [
    ("apache", "Apache alone (no maintgate snippet, no map)"),
    ("off", "shipped config, maintenance off"),
    ("state_only", "only the contract's state-map check (the site copied into a variable, `RewriteCond ${mgstate:%{ENV:MAINTGATE_SITE}\\|on} =on`), maintenance off"),
    ("on_redirect", "shipped config, maintenance on: redirected"),
    ("on_redirect_quiet", "… the same with log.level = \"warn\" (no line per redirect)"),
    ("echo_redirect", "shipped config, C echo answering `redirect` (floor)"),
    ("on_whitelist", "shipped config, maintenance on: whitelisted, let through"),
    ("echo_allow", "shipped config, C echo answering `allow` (floor)"),
]
out = ["## Apache end to end\n"]
out.append(
    "`wrk -t2 -c%d` on 127.0.0.1 for %g s per run, against Debian's Apache %s with the harness of "
    "`tests/apache_env_test.go` (the shipped `apache-conf/` snippets, mpm_event). Static: a 4 KB page "
    "served from disk (`/pages/index.html`, gated: not an always-allowed path); proxied: a small page "
    "from a Go backend through mod_proxy. Every variant runs in its own Apache at the same time; a round "
    "measures each once, the variants compared with each other back to back, in an order that changes "
    "every round; %d rounds (`tests/bench_apache_test.go`, `TestBenchApache`). Rates and latencies are "
    "medians over the rounds; ratios are medians of the per-round ratios, with their range. "
    "The floors run `bench/echo/echo.c` in place of `maintgate map` (one copy answering `allow`, one "
    "answering `redirect`, so each is compared with the same response). CPU is user+system time per "
    "request, of Apache's processes and of the map program; context switches are the map program's, all "
    "its threads counted (a program that sleeps in read(2) and wakes once per lookup makes one).\n"
    % (one["conns"], one["seconds"], "2.4", rounds))
out.append("| variant | static req/s | p50 ms | p99 ms | Apache CPU µs/req | proxied req/s | p50 ms | p99 ms | Apache CPU µs/req | map CPU µs/req | map context switches/req |")
out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for v, label in labels:
    cells = []
    for p in paths:
        rs = by.get((v, p), [])
        if not rs:
            cells += ["–"] * 4
            continue
        cells += ["%.0f" % med([r["rps"] for r in rs]), "%.2f" % med([r["p50_ms"] for r in rs]),
                  "%.2f" % med([r["p99_ms"] for r in rs]), "%.0f" % med([r["apache_cpu_us"] for r in rs])]
    allr = by.get((v, "static"), []) + by.get((v, "proxied"), [])
    cells.append("%.1f" % med([r["map_cpu_us"] for r in allr]) if v != "apache" else "–")
    cells.append("%.2f" % med([r.get("map_switches", 0) for r in allr]) if v not in ("apache", "off", "state_only") else "–")
    out.append("| %s | %s |" % (label, " | ".join(cells)))
out.append("")
out.append("| comparison | static | proxied | target | met |")
out.append("|---|---:|---:|---:|---|")
targets = [
    ("maintenance off ÷ Apache alone", "off", "apache", 0.95),
    ("the state-map check alone ÷ Apache alone: the contract's own cost while off", "state_only", "apache", None),
    ("maintenance off ÷ the state-map check alone: what the shipped snippets add", "off", "state_only", None),
    ("maintenance on, redirected ÷ echo floor", "on_redirect", "echo_redirect", 0.95),
    ("maintenance on, whitelisted ÷ echo floor", "on_whitelist", "echo_allow", 0.95),
    ("redirected, no log line ÷ echo floor", "on_redirect_quiet", "echo_redirect", None),
    ("echo floor (allow) ÷ Apache alone: what any prg lookup costs", "echo_allow", "apache", None),
]
for label, a, b, target in targets:
    cells, met = [], []
    for p in paths:
        m, lo, hi = ratio(a, b, p)
        cells.append("%.2f (%.2f–%.2f)" % (m, lo, hi))
        met.append(m >= target if target else None)
    verdict = "–" if target is None else ("yes" if all(met) else "**no**")
    out.append("| %s | %s | %s | %s | %s |" % (label, cells[0], cells[1], "≥ %.2f" % target if target else "–", verdict))
lk = extra.get("off_lookups")
if lk:
    out.append("")
    out.append("Maintenance off: %s requests through the shipped config, **%d key lines** reached the map "
               "(counted by the harness's wrapper in front of `maintgate map`); the map's CPU then is its idle "
               "polling of the flag and config files." % (format(lk["requests"], ","), lk["lines"]))
print("\n".join(out))
PY
}

django() {
	/usr/bin/python3 bench/django/selfcheck.py >&2
	benchtest TestBenchDjango MAINTGATE_BENCH_ROUNDS="${ROUNDS:-15}" MAINTGATE_BENCH_DURATION="${DURATION:-1s}" MAINTGATE_BENCH_CONNS="${CONNS:-16}"
	/usr/bin/python3 - "$out/django.jsonl" > "$out/django.md" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
runs = [r for r in rows if "rps" in r]
med = statistics.median
by = {}
for r in runs:
    by.setdefault(r["variant"], {})[r["round"]] = r
dj, mg = by["django"], by["maintgate"]
rounds = sorted(set(dj) & set(mg))
rps = [mg[k]["rps"] / dj[k]["rps"] for k in rounds]
p50 = [dj[k]["p50_ms"] / mg[k]["p50_ms"] for k in rounds]
one = runs[0]
out = ["## Against the original: the Django middleware\n"]
out.append(
    "The same request (`GET /de/map/` from a client that is not let through) answered with the same "
    "302 to `/maintenance.html`: by the original setup's `MaintenanceModeMiddleware` (rewritten from its "
    "description in `bench/django/`, checked by `bench/django/selfcheck.py`: flag file, IP/CIDR whitelist, "
    "admin paths, superusers) in a stock Django %s project under Debian's gunicorn (%d sync workers), "
    "behind Apache as reverse proxy; and by maintgate in Apache with the shipped config, the application "
    "never reached. `wrk -t2 -c%d`, %g s runs, %d rounds taken in turn (`TestBenchDjango`). Both log one "
    "INFO line per redirect, as the original does. The middleware is given every advantage: its settings "
    "are parsed once (the original reads its whitelist from the database) and it runs no query.\n"
    % ("3.2", one["workers"], one["conns"], one["seconds"], len(rounds)))
out.append("| who redirects | req/s | p50 ms | p90 ms | p99 ms |")
out.append("|---|---:|---:|---:|---:|")
for name, label in (("django", "Django middleware under gunicorn, behind Apache"), ("maintgate", "maintgate in Apache")):
    rs = list(by[name].values())
    out.append("| %s | %.0f | %.2f | %.2f | %.2f |" % (label, med([r["rps"] for r in rs]), med([r["p50_ms"] for r in rs]),
                                                   med([r["p90_ms"] for r in rs]), med([r["p99_ms"] for r in rs])))
out.append("")
out.append("**maintgate serves the maintenance redirect at %.1f× the rate of the Django middleware** "
           "(median of per-round ratios, range %.1f–%.1f×), with a %.1f× lower median latency; the "
           "application's workers are not touched at all." % (med(rps), min(rps), max(rps), med(p50)))
lines = [r for r in rows if r.get("kind") == "django_log_lines"]
if lines:
    out.append("The middleware logged %d redirects (`mgmt.log`): the Django figures are its own." % lines[0]["lines"])
print("\n".join(out))
PY
}

memory() {
	benchtest TestBenchMemory MAINTGATE_BENCH_SESSIONS="${SESSIONS:-100000}"
	/usr/bin/python3 - "$out/memory.jsonl" > "$out/memory.md" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
fill = [r for r in rows if r["stage"] == "fill"]
cached = [r for r in rows if r["stage"] == "cached_pass"]
mb = lambda kb: kb / 1024.0
out = ["## Memory of `maintgate map`\n"]
top = fill[-1]["sessions"]
out.append(
    "Resident size (`VmRSS` in `/proc/PID/status`) of one `maintgate map` process with 0, 10,000 and "
    "%s Django superuser sessions in its cache. The sessions are real: %s rows written with Django's own "
    "`SessionStore.encode` into a SQLite database (`bench/django/mkmany.py`), each cookie sent through "
    "the map once (`cache_size = %d`, `cache_ttl = \"1h\"`, `miss_rate` high enough to look every one "
    "up), which reads the row, checks its signature and the user, and caches the answer "
    "(`TestBenchMemory`). Go heap: the live heap after the last garbage collection (`GODEBUG=gctrace=1`).\n"
    % (format(top, ","), format(top, ","), top))
out.append("| cached sessions | VmRSS MB | of it: anonymous MB | of it: file-backed (the binary) MB | peak (VmHWM) MB | Go live heap MB | Go heap goal MB | lookups/s while filling |")
out.append("|---:|---:|---:|---:|---:|---:|---:|---:|")
prev = 0
for r in fill:
    n = r["sessions"] - prev
    rate = "%.0f" % (n / r["seconds"]) if n >= 1000 else "–"
    gc = r.get("gc", {})
    out.append("| %s | %.1f | %.1f | %.1f | %.1f | %s | %s | %s |" % (format(r["sessions"], ","), mb(r["vmrss_kb"]), mb(r["rss_anon_kb"]),
               mb(r["rss_file_kb"]), mb(r["vmhwm_kb"]), "%.1f" % gc["heap_live_mb"] if gc else "–",
               "%.0f" % gc["heap_goal_mb"] if gc else "–", rate))
    prev = r["sessions"]
base, last = fill[0], fill[-1]
per = (last["vmrss_kb"] - base["vmrss_kb"]) * 1024.0 / max(1, last["sessions"])
target = mb(last["vmrss_kb"]) <= 20
out.append("")
gl = last.get("gc", {}).get("heap_live_mb")
out.append("Per cached session: %.0f bytes of RSS%s. Target ≤ 20 MB at %s sessions: **%s** (%.1f MB)." % (
    per, " (%.0f bytes of live Go heap)" % (gl * 1048576 / last["sessions"]) if gl else "",
    format(last["sessions"], ","), "met" if target else "not met", mb(last["vmrss_kb"])))
if cached:
    c = cached[0]
    out.append("A second pass over all %s cookies, answered from the cache: %.0f lookups/s, answers %s; "
               "VmRSS then %.1f MB." % (format(c["sessions"], ","), c["sessions"] / c["seconds"],
               ", ".join("%s %d" % kv for kv in sorted(c["answers"].items())), mb(c["vmrss_kb"])))
print("\n".join(out))
PY
}

panel() {
	# The panel's page and what it refreshes, with stats_file rewritten every
	# millisecond beside the same without (BenchmarkStatusPage, in process,
	# over loopback); both variants of each page in one run.
	go test -run '^$' -bench StatusPage -benchtime "${PANEL_REQUESTS:-3000}x" -count 1 ./panel/ > "$work/panel.txt"
	/usr/bin/python3 - "$work/panel.txt" > "$out/panel.md" <<'PY'
import re, sys
rows = {}
for line in open(sys.argv[1]):
    m = re.match(r"BenchmarkStatusPage/page=(.*?)/stats=(\S+?)(-\d+)?\s+\d+\s+.*?([\d.]+) p50-µs\s+([\d.]+) p99-µs", line)
    if m:
        rows.setdefault(m.group(1) or "(page)", {})[m.group(2)] = (float(m.group(4)), float(m.group(5)))
out = ["## The control panel's status page\n",
       "Requests to the panel over loopback, signed in with htpasswd, an hour of counter samples and 1000 "
       "audit lines behind the page (`BenchmarkStatusPage`, `scripts/bench.sh panel`): quiet, and with "
       "`stats_file` replaced every millisecond (the map writes it every 10 s). Both in one run.\n",
       "| request | quiet p50 / p99 µs | stats_file rewritten, p50 / p99 µs | p50 ratio |", "|---|---|---|---|"]
names = {"(page)": "`GET /` (the page)", "api/status": "`GET api/status`", "live": "`GET live` (the live view)"}
for k, v in rows.items():
    q, r = v.get("quiet"), v.get("rewritten-every-1ms")
    if q and r:
        out.append("| %s | %.0f / %.0f | %.0f / %.0f | %.2f |" % (names.get(k, k), q[0], q[1], r[0], r[1], r[0] / q[0]))
print("\n".join(out))
PY
	cat "$out/panel.md"
}

fleet() {
	# 100 maps and one redis-server (bench/fleet/run.sh, TestBenchFleet):
	# from `on`/`off` returning to the last host answering the new way.
	bench/fleet/run.sh
	/usr/bin/python3 - "$out/fleet.jsonl" > "$out/fleet.md" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
summ = {r["summary"]: r for r in rows if "summary" in r}
out = ["## The fleet: one switch for %d hosts\n" % summ["on"]["hosts"],
       "%d `maintgate map` processes on this machine (stand-ins for hosts, each with its own directory and "
       "config) and one redis-server on loopback; `maintgate on` and `off` from one of them, %d rounds each "
       "(`scripts/bench.sh fleet`). The time is from the command's return to the last host answering the "
       "new way, asked in turn (the sweep: every host asked once with nothing changed, is the floor of that "
       "measure). Goal: every host within 1 s, p50 within 100 ms.\n" % (summ["on"]["hosts"], summ["on"]["rounds"]),
       "| command | p50 ms | max ms |", "|---|---|---|"]
for k in ("on", "off", "sweep"):
    r = summ[k]
    out.append("| %s | %.0f | %.0f |" % ("sweep (floor)" if k == "sweep" else "`maintgate %s`" % k, r["p50_ms"], r["max_ms"]))
print("\n".join(out))
PY
	cat "$out/fleet.md"
}

checker() {
	# The tests run the binary as `make build` makes it (CGO_ENABLED=0); the
	# same source built with cgo shows what that build mode would cost at
	# every fork of the checker.
	CGO_ENABLED=1 go build -trimpath -o "$work/maintgate-cgo" ./cmd/maintgate
	benchtest TestBenchChecker MAINTGATE_BENCH_CHECKER_RUNS="${CHECKER_RUNS:-500}" MAINTGATE_BENCH_ALT_BIN="$work/maintgate-cgo"
	/usr/bin/python3 - "$out/checker.jsonl" > "$out/checker.md" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))]
labels = {
    "floor": ("fork-exec floor: `/bin/true`", None),
    "go_floor": ("an empty Go program (`func main() {}`)", None),
    "version": ("`maintgate version`: the binary's start and exit alone", None),
    "allowed": ("allowed: whitelisted IP (shipped config, no session store)", 3),
    "denied": ("denied: other IP, wrong credentials (shipped config)", 3),
    "allowed_cgo": ("allowed, the same source built with cgo (`CGO_ENABLED=1`)", None),
    "denied_cgo": ("denied, the same source built with cgo (`CGO_ENABLED=1`)", None),
    "django_allowed": ("allowed: whitelisted IP (Django session store configured)", None),
    "django_session": ("allowed: superuser session cookie (SQLite lookup)", None),
    "django_denied_password": ("denied: superuser name, wrong password (PBKDF2, 260,000 rounds, as Django)", None),
}
floor = sorted(next(r for r in rows if r["case"] == "floor")["us"])
f50 = pct(floor, 0.5)
out = ["## The mod_authnz_external checker\n"]
out.append(
    "Fork to reaped exit of `maintgate authz`, started as mod_authnz_external's `pipe` method starts it: "
    "the variables `AUTHTYPE=PASS`, `IP`, `URI`, `COOKIE`, `CONTEXT`, `HTTP_HOST` in a clean "
    "environment, user name and password written to a pipe on its stdin; maintenance on. The cases "
    "take turns (`TestBenchChecker`); the PBKDF2 case runs every tenth turn.\n")
out.append("| case | runs | p50 ms | p90 ms | p99 ms | p50 − floor ms | target |")
out.append("|---|---:|---:|---:|---:|---:|---|")
verdicts = []
for r in rows:
    label, target = labels.get(r["case"], (r["case"], None))
    us = r["us"]
    p50 = pct(us, 0.5) / 1000
    t = "–"
    if target:
        ok = p50 <= target
        verdicts.append(ok)
        t = "≤ %g ms p50: %s" % (target, "met" if ok else "**not met**")
    out.append("| %s | %d | %.2f | %.2f | %.2f | %s | %s |" % (label, len(us), p50, pct(us, 0.9) / 1000, pct(us, 0.99) / 1000,
               "–" if r["case"] == "floor" else "%.2f" % (p50 - f50 / 1000), t))
p = {r["case"]: pct(r["us"], 0.5) / 1000 for r in rows}
if {"allowed", "version", "go_floor"} <= set(p):
    out.append("")
    out.append("Of the allowed request's %.2f ms, %.2f ms is the binary starting and exiting: "
               "`maintgate version`, which reads no file, takes that long, against %.2f ms for an empty Go "
               "program. The checker's own work (config, flag, decision) is the difference, %.2f ms." % (
                   p["allowed"], p["version"], p["go_floor"], p["allowed"] - p["version"]))
    if "allowed_cgo" in p:
        out.append("The binary is built as `make build` builds it, without cgo; built with cgo (dynamically "
                   "linked to libc) it would take %.2f ms longer (allowed: %.2f ms)." % (
            p["allowed_cgo"] - p["allowed"], p["allowed_cgo"]))
print("\n".join(out))
PY
}

gobench() { bench/gobench.sh; }

for p in $parts; do
	declare -F "$p" >/dev/null || { echo "bench: no part named $p" >&2; exit 2; }
done
for p in $parts; do "$p"; done
printf '{"machine": "%s, %s cores, Go %s, %s"}\n' "$(uname -m)" "$(nproc)" "$(go env GOVERSION)" "$(date -u +%F)" > "$out/env.json"
/usr/bin/python3 bench/report.py
