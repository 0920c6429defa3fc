#!/usr/bin/env bash
# The in-process Go benchmarks, five times each, medians into
# bench/results/gobench.md: the decision per path, one key line through the
# gate, session cache hits, cold lookups (SQLite, a real PostgreSQL), cache
# memory, whitelist matching, token verification. Called by scripts/bench.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
out=bench/results
mkdir -p "$out"
go test -run '^$' -bench . -benchmem -count "${COUNT:-5}" -timeout 20m \
	./authz ./gate ./authz/session ./whitelist ./authz/token ./rewritemap > "$out/gobench.txt"
/usr/bin/python3 - "$out/gobench.txt" > "$out/gobench.md" <<'PY'
import re, statistics, sys
rows = {}
order = []
pkg = ""
for line in open(sys.argv[1]):
    if line.startswith("pkg: "):
        pkg = line.split()[1].replace("github.com/maintgate/maintgate/", "")
    m = re.match(r"^(Benchmark\S+?)(-\d+)?\s+\d+\s+([\d.]+) ns/op(.*)$", line)
    if not m:
        continue
    name = pkg + " " + m.group(1)
    extra = m.group(4)
    if name not in rows:
        rows[name] = {"ns": [], "b": [], "allocs": [], "extra": {}}
        order.append(name)
    r = rows[name]
    r["ns"].append(float(m.group(3)))
    for val, unit in re.findall(r"([\d.]+) (\S+)", extra):
        if unit == "B/op":
            r["b"].append(float(val))
        elif unit == "allocs/op":
            r["allocs"].append(float(val))
        else:
            r["extra"].setdefault(unit, []).append(float(val))
print("## In-process Go benchmarks\n")
print("`bench/gobench.sh`: `go test -bench . -benchmem -count 5`; medians of the five runs. "
      "These are the costs inside the process; a pipe round trip (above) is ~7–10 µs.\n")
print("| package | benchmark | ns/op | B/op | allocs/op | other |")
print("|---|---|---:|---:|---:|---|")
for name in order:
    r = rows[name]
    p, b = name.split(" ", 1)
    med = lambda v: statistics.median(v) if v else 0
    other = ", ".join("%s %s" % (("%.0f" % med(v)), u) for u, v in r["extra"].items())
    print("| %s | %s | %s | %.0f | %.0f | %s |" % (p, b.replace("Benchmark", ""),
          ("%.0f" % med(r["ns"])) if med(r["ns"]) >= 100 else ("%.1f" % med(r["ns"])),
          med(r["b"]), med(r["allocs"]), other))
PY
