#!/usr/bin/python3
"""Plots of a benchmark's JSON, written beside it as PNG and SVG (matplotlib, Debian's
python3-matplotlib: `BENCH=1 tools/install-deps.sh`).

  tools/bench/plot.py build-release/bench.json      -> bench.png, bench.svg
  xsmb-bench ... --json > r.json; tools/bench/plot.py r.json   -> r.png, r.svg

Two inputs are understood:
- tools/bench/bench.py's report ({"benchmarks": {name: {"unit", "median_xsmbd",
  "median_samba", "server_cpu": ...}}}): per benchmark xsmbd against Samba, one panel per unit
  (MB/s, ops/s, entries/s), and the servers' CPU time per request (user + system, us).
- xsmb-bench --json (a list of workload results): throughput per workload and its latency
  percentiles (p50, p99, p99.9, max; us, log scale). Several such files (e.g. one per server)
  are drawn side by side, labelled by file name.
Exit status: 0 written, 1 unreadable input, 2 matplotlib missing.
"""

import json
import sys
from pathlib import Path


def load_pyplot():
    try:
        import matplotlib
        matplotlib.use("Agg")  # files only, no display
        import matplotlib.pyplot as plt
        return plt
    except ImportError:
        print("plot.py: matplotlib is missing (apt-get install python3-matplotlib)",
              file=sys.stderr)
        sys.exit(2)


def bars(ax, names, series, ylabel, log=False):
    """Grouped bars: one group per name, one bar per (label, values) in series."""
    width = 0.8 / max(len(series), 1)
    for i, (label, values) in enumerate(series):
        xs = [k + (i - (len(series) - 1) / 2) * width for k in range(len(names))]
        ax.bar(xs, [v if v is not None else 0 for v in values], width, label=label)
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel(ylabel)
    if log:
        ax.set_yscale("log")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)


def plot_bench_report(plt, doc, title):
    benches = doc["benchmarks"]
    units = sorted({b["unit"] for b in benches.values()})
    fig, axes = plt.subplots(1, len(units) + 1, figsize=(5 * (len(units) + 1), 4.5))
    for ax, unit in zip(axes, units):
        names = [n for n, b in benches.items() if b["unit"] == unit]
        bars(ax, names, [("xsmbd", [benches[n]["median_xsmbd"] for n in names]),
                         ("Samba", [benches[n]["median_samba"] for n in names])], unit)
        ax.set_title(f"throughput ({unit})")
    names = [n for n, b in benches.items() if b.get("server_cpu")]

    def cpu(n, kind):
        m = benches[n]["server_cpu"].get(f"median_{kind}") or {}
        return m.get("total_us")
    bars(axes[-1], names, [("xsmbd", [cpu(n, "xsmbd") for n in names]),
                           ("Samba", [cpu(n, "samba") for n in names])],
         "server CPU us per request (or MB)", log=True)
    axes[-1].set_title("server CPU")
    fig.suptitle(title)
    return fig


def plot_xsmb_bench(plt, runs):
    """runs: [(label, [workload result, ...]), ...]"""
    workloads = []
    for _, results in runs:
        for r in results:
            if r["workload"] not in workloads:
                workloads.append(r["workload"])

    def value(results, w, get):
        for r in results:
            if r["workload"] == w:
                return get(r)
        return None
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    bars(axes[0], workloads, [(label, [value(res, w, lambda r: r.get("ops_per_sec"))
                                       for w in workloads]) for label, res in runs], "ops/s")
    axes[0].set_title("throughput")
    series = []
    for label, res in runs:
        for p in ("p50", "p99", "p999", "max"):
            series.append((f"{label} {p}" if len(runs) > 1 else p,
                           [value(res, w, lambda r: (r.get("latency_us") or {}).get(p))
                            for w in workloads]))
    bars(axes[1], workloads, series, "latency (us)", log=True)
    axes[1].set_title("latency percentiles")
    fig.suptitle("xsmb-bench")
    return fig


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 1
    paths = [Path(a) for a in argv[1:]]
    try:
        docs = [json.loads(p.read_text()) for p in paths]
    except (OSError, ValueError) as e:
        print(f"plot.py: {e}", file=sys.stderr)
        return 1
    plt = load_pyplot()
    if isinstance(docs[0], dict) and "benchmarks" in docs[0]:
        d = docs[0]
        fig = plot_bench_report(plt, d, f"xsmbd vs Samba, commit {d.get('commit')}, "
                                        f"{d.get('rounds')} round(s), {d.get('cpus')} CPUs")
    elif all(isinstance(d, list) for d in docs):
        fig = plot_xsmb_bench(plt, [(p.stem, d) for p, d in zip(paths, docs)])
    else:
        print("plot.py: neither bench.py's report nor xsmb-bench --json", file=sys.stderr)
        return 1
    fig.tight_layout()
    for ext in ("png", "svg"):
        out = paths[0].with_suffix("." + ext)
        fig.savefig(out, dpi=110)
        print(f"plot: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
