#!/usr/bin/python3
"""Turns bench/results/* into BENCHMARKS.md and bench/results/roundtrip.png.

Every figure in BENCHMARKS.md comes from a results file written by
scripts/bench.sh; nothing here is typed in by hand. Sections whose results
file is missing are left out.
"""
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
RES = os.path.join(HERE, "results")


def load_jsonl(name):
    path = os.path.join(RES, name)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return [json.loads(l) for l in f if l.strip()]


def load_json(name):
    path = os.path.join(RES, name)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


CASES = [
    ("off", "flag off (Apache would not even ask)"),
    ("static", "static path"),
    ("whitelisted", "whitelisted IP"),
    ("token", "valid bypass token"),
    ("superuser", "cached superuser session"),
    ("redirect", "redirect"),
    ("flood10", "10% never-seen session cookies"),
    ("flood50", "50% never-seen session cookies"),
    ("site_static", "static path, key line with a site, 1 site configured"),
    ("site10_static", "static path, key line with a site, 10 sites configured"),
    ("site_whitelisted", "whitelisted IP, key line with a site, 1 site configured"),
    ("site10_whitelisted", "whitelisted IP, key line with a site, 10 sites configured"),
]


def roundtrip_section(all_rows):
    rows = [r for r in all_rows if r.get("mode", "pinned") == "pinned"]
    unpinned = [r for r in all_rows if r.get("mode") == "unpinned"]
    by = {}
    for r in rows:
        by.setdefault(r["case"], {})[r["prog"]] = r
    any_row = rows[0]
    out = []
    out.append("## Lock-step round trips through the pipe\n")
    out.append(
        "One key line written, one answer read, repeated, as Apache drives a `prg:` map "
        "(`bench/roundtrip`). The floors are programs that answer `allow` at once: "
        "`bench/echo/echo.c` (C) and `bench/goecho` (Go). All three run side by side, %d batches "
        "of %d round trips each, and within a batch take turns of %d round trips, so a noisy moment "
        "hits them alike. Rates are medians of the batch rates; rate ratios are medians of the "
        "per-batch ratios (maintgate's rate over the floor's in the same batch); p50 ratios are "
        "medians of the per-batch ratios of median latencies (the floor's p50 over maintgate's), "
        "which a few slow round trips on a shared machine cannot move. Target: ≥ 0.97 × the "
        "floor on every path.\n" % (any_row["batches"], any_row["batch"], any_row.get("chunk", 100)))
    out.append("The driver and the programs run pinned to one CPU (`taskset`), so a round trip costs "
               "what its CPU work costs: its two system calls, two context switches and the program's "
               "own work. Placed by the scheduler instead (second table), a program that sleeps in "
               "read(2) also pays for waking on the other CPU, which on this VM costs the C echo far "
               "more than the Go programs, whose runtime spins briefly before it sleeps.\n")
    out.append("| path | maintgate rt/s | p50 µs | p99 µs | C echo rt/s | C echo p50 µs | Go echo rt/s | × C floor (rate) | × C floor (p50) | × Go floor (rate) |")
    out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    plot, verdicts = [], []
    for case, label in CASES:
        if case not in by:
            continue
        c = by[case]
        mg, ce, ge = c["maintgate"], c["echo"], c["goecho"]
        out.append("| %s | %.0f | %.1f | %.1f | %.0f | %.1f | %.0f | %.2f | %.2f | %.2f |" % (
            label, mg["per_second"], mg["p50_us"], mg["p99_us"], ce["per_second"], ce["p50_us"], ge["per_second"],
            mg["ratio"], mg.get("p50_ratio", 0), mg["ratio"] / ge["ratio"]))
        plot.append((label, mg["per_second"], ce["per_second"], ge["per_second"]))
        verdicts.append((label, mg["ratio"] >= 0.97, mg.get("p50_ratio", 0) >= 0.97))
    if verdicts:
        miss_rate = [v[0] for v in verdicts if not v[1]]
        miss_p50 = [v[0] for v in verdicts if not v[2]]
        out.append("")
        def met(miss):
            if not miss:
                return "met on all %d paths" % len(verdicts)
            if len(miss) == len(verdicts):
                return "**not met** on any of the %d paths" % len(verdicts)
            return "met on %d of %d paths (**not met**: %s)" % (len(verdicts) - len(miss), len(verdicts), ", ".join(miss))
        out.append("Target ≥ 0.97 × the C floor: by rate, %s; by p50 latency, %s." % (met(miss_rate), met(miss_p50)))
        gr = [c["goecho"]["ratio"] for c in by.values() if "goecho" in c]
        gp = [c["goecho"].get("p50_ratio", 0) for c in by.values() if "goecho" in c]
        if gr:
            out.append("The Go echo, a trivial Go program that reads a line and answers (no periodic yield, see "
                       "`rewritemap.yieldEvery`), reaches %.2f–%.2f × the C floor by rate (%.2f–%.2f by p50)." % (
                           min(gr), max(gr), min(gp), max(gp)))
    if "redirect" in by and "maintgate_nolog" in by["redirect"]:
        r = by["redirect"]
        out.append("")
        out.append("Logging: the redirect case logs one INFO line per request. The same with "
                   "`log.level = \"error\"` (no line written): %.0f rt/s, %.2f × C floor, against "
                   "%.0f rt/s and %.2f × with logging (lines are written after the answer is "
                   "flushed, into a buffer written out in batches by a background goroutine)." % (
                       r["maintgate_nolog"]["per_second"], r["maintgate_nolog"]["ratio"],
                       r["maintgate"]["per_second"], r["maintgate"]["ratio"]))
    floods = [c for c in ("flood10", "flood50") if c in by]
    if floods:
        out.append("")
        out.append("In the floods, the other lines (whitelisted requests) measured on their own "
                   "(rate = 1 / mean latency of those lines):\n")
        out.append("| mix | other lines' rate | p50 µs | p99 µs | × C floor | answers |")
        out.append("|---|---:|---:|---:|---:|---|")
        for case in floods:
            mg = by[case]["maintgate"]
            out.append("| %s | %.0f | %.1f | %.1f | %.2f | %s |" % (
                dict(CASES)[case], mg["marked_per_second"], mg["marked_p50_us"], mg["marked_p99_us"],
                mg["marked_ratio"], ", ".join("%s %d" % kv for kv in sorted(mg["answers"].items()))))
    if unpinned:
        ub = {}
        for r in unpinned:
            ub.setdefault(r["case"], {})[r["prog"]] = r
        out.append("")
        out.append("Placed by the scheduler (not pinned), as Apache runs the map:\n")
        out.append("| path | maintgate rt/s | p50 µs | C echo rt/s | C echo p50 µs | Go echo rt/s | Go echo p50 µs | × C floor (rate) | × Go floor (rate) |")
        out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for case, label in CASES:
            if case not in ub:
                continue
            mg, ce, ge = ub[case]["maintgate"], ub[case]["echo"], ub[case]["goecho"]
            out.append("| %s | %.0f | %.1f | %.0f | %.1f | %.0f | %.1f | %.2f | %.2f |" % (
                label, mg["per_second"], mg["p50_us"], ce["per_second"], ce["p50_us"], ge["per_second"],
                ge["p50_us"], mg["ratio"], mg["ratio"] / ge["ratio"]))
    out.append("\n![round trips per second per path](bench/results/roundtrip.png)\n")
    make_plot(plot)
    return "\n".join(out)


def counters_section(rows):
    """The round trips of the map before it counted its answers and after,
    both in the same runs (scripts/bench.sh counters)."""
    med = statistics.median
    runs = {}
    for r in rows:
        runs.setdefault((r.get("mode", "pinned"), r["case"], r["run"], r["before_first"]), {})[r["prog"]] = r
    one = rows[0]
    nruns = max(r["run"] for r in rows)
    out = ["### Counters: round trips before and after (issue 12)\n"]
    out.append(
        "`maintgate map` counts every answer (one atomic add on a fixed array, by reason) and a goroutine "
        "writes the counters to `stats_file` every 10 s. The round trips above (`scripts/bench.sh counters`), "
        "with `stats_file` set, through the map before the counters (`%s`) and the map with them (`%s`) "
        "side by side in the same runs, beside the floors, so that the load of the moment falls on both; "
        "each run twice, the two maps in either order (the driver favours one position), %d time%s. "
        "Rates and p50 are medians over the runs; after ÷ before is the ratio of the two maps' rates, each "
        "taken as its median per-batch ratio to the C floor of its run, the two orders combined by their "
        "geometric mean, then the median over the runs; its range is over every run and order.\n"
        % (one["before"], one["after"], nruns, "s" if nruns > 1 else ""))
    summary = []
    for mode in ("pinned", "unpinned"):
        lines, changes, orders = [], [], []
        for case, label in CASES:
            groups = {k[2:]: v for k, v in runs.items() if k[0] == mode and k[1] == case}
            pairs = {k: v for k, v in groups.items() if "maintgate" in v and "maintgate_before" in v}
            if not pairs:
                continue
            x = {k: v["maintgate"]["ratio"] / v["maintgate_before"]["ratio"] for k, v in pairs.items()}
            balanced = []
            for run in sorted({k[0] for k in x}):
                if (run, True) in x and (run, False) in x:
                    balanced.append((x[(run, True)] * x[(run, False)]) ** 0.5)
                    orders.append(max(x[(run, True)], x[(run, False)]) / min(x[(run, True)], x[(run, False)]) - 1)
            change = med(balanced) if balanced else med(list(x.values()))
            changes.append(change)
            b = [v["maintgate_before"] for v in pairs.values()]
            a = [v["maintgate"] for v in pairs.values()]
            lines.append("| %s | %.0f | %.0f | %.1f | %.1f | %.3f | %.3f–%.3f |" % (
                label, med([r["per_second"] for r in b]), med([r["per_second"] for r in a]),
                med([r["p50_us"] for r in b]), med([r["p50_us"] for r in a]), change, min(x.values()), max(x.values())))
        if not lines:
            continue
        out.append("%s:\n" % ("Pinned to one CPU" if mode == "pinned" else "Placed by the scheduler"))
        out.append("| path | before rt/s | after rt/s | before p50 µs | after p50 µs | after ÷ before | range |")
        out.append("|---|---:|---:|---:|---:|---:|---|")
        out.extend(lines)
        out.append("")
        s = "%s, after ÷ before %.3f (median of the %d paths; %.3f–%.3f)" % (
            mode, med(changes), len(changes), min(changes), max(changes))
        if orders:
            s += ", while the order of the two maps alone moves it by %.1f %% (median; at most %.1f %%)" % (
                100 * med(orders), 100 * max(orders))
        summary.append(s)
    out.append("Summary: %s." % "; ".join(summary))
    return "\n".join(out) + "\n"


def make_plot(plot):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("report: python3-matplotlib missing; no plot", file=sys.stderr)
        return
    labels = [p[0] for p in plot]
    fig, ax = plt.subplots(figsize=(10, 4.8))
    x = range(len(plot))
    w = 0.27
    ax.bar([i - w for i in x], [p[1] for p in plot], w, label="maintgate")
    ax.bar(list(x), [p[2] for p in plot], w, label="C echo (floor)")
    ax.bar([i + w for i in x], [p[3] for p in plot], w, label="Go echo (floor)")
    ax.set_xticks(list(x))
    ax.set_xticklabels(labels, rotation=20, ha="right", fontsize=8)
    ax.set_ylabel("round trips / s (median)")
    ax.set_title("maintgate map: lock-step round trips per path vs. trivial echo programs")
    ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(RES, "roundtrip.png"), dpi=100)


def main():
    parts = []
    rt = load_jsonl("roundtrip.jsonl")
    if rt:
        parts.append(roundtrip_section(rt))
    ct = load_jsonl("counters.jsonl")
    if ct:
        parts.append(counters_section(ct))
    # locks.md is written by hand from the lock tests' logs (go test -run
    # 'Locked' -v ./authz/session), not by this script.
    for name in ("apache.md", "django.md", "memory.md", "checker.md", "gobench.md", "fuzz.md", "locks.md", "panel.md", "fleet.md"):
        p = os.path.join(RES, name)
        if os.path.exists(p):
            with open(p) as f:
                parts.append(f.read().strip() + "\n")
    env = load_json("env.json") or {}
    head = ["# Benchmarks", "",
            "Written by `scripts/bench.sh` (raw results in `bench/results/`); do not edit by hand.",
            "Machine: %s. Shared and noisy: compare ratios measured in one run, not absolute times "
            "across runs." % env.get("machine", "2 cores, 24 GiB (the project's CI machine kind)"), ""]
    with open(os.path.join(ROOT, "BENCHMARKS.md"), "w") as f:
        f.write("\n".join(head + parts))


if __name__ == "__main__":
    main()
