#!/usr/bin/env python3
"""XDP steering on and off in the same run: server CPU per request and cross-CPU wake-ups.

  sudo XSMBD=build/server/xsmbd XSMBCTL=build/tools/xsmbctl/xsmbctl \\
       XSMB_LOADER=build/loader/xsmb-loader XSMB_BENCH=build/tools/xsmb-bench/xsmb-bench \\
       python3 tools/bench/steer_ab.py [--rounds 3] [--duration 5] [--connections 8] [--qd 16]

Builds the namespaces of tests/bpf/test_e2e_netns.py (server and client joined by a veth, XDP
native, TC egress, a pfifo on the client's veth), starts one xsmbd with `bpf = yes` and its
workers pinned one per CPU, and runs xsmb-bench echo from the client namespace, alternating
`xsmb-loader load --steer` and `--no-steer` each round. Per run: requests/s; xsmbd's CPU (user
and system, all threads, from /proc/PID/stat) per request; the machine's softirq time per
request (NET_RX work lands there, /proc/stat); and the rescheduling plus function-call
interrupts per request (/proc/interrupts RES + CAL: the inter-processor interrupts that
cross-CPU wake-ups send). This kernel has no schedstats (no per-task remote wake-up counts)
and no perf, so the interrupts stand in for `perf stat -e sched:sched_wakeup`.
"""

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "bpf"))
import test_e2e_netns as e2e  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from procstat import CLK_TCK as TICK, read_stat  # noqa: E402


def proc_cpu(pid):
    """(user, system) seconds of every thread of pid and its reaped children."""
    st = read_stat(pid)
    return ((st["utime"] + st["cutime"]) / TICK, (st["stime"] + st["cstime"]) / TICK)


def softirq_seconds():
    f = Path("/proc/stat").read_text().splitlines()[0].split()
    return int(f[7]) / TICK  # cpu user nice system idle iowait irq softirq


def ipis():
    n = 0
    for line in Path("/proc/interrupts").read_text().splitlines():
        parts = line.split()
        if parts and parts[0] in ("RES:", "CAL:"):
            n += sum(int(x) for x in parts[1:] if x.isdigit())
    return n


def run_once(case, server, steer, duration, connections, qd):
    e2e.loader("load", "--steer" if steer else "--no-steer")
    u0, s0 = proc_cpu(server.proc.pid)
    q0, i0, t0 = softirq_seconds(), ipis(), time.monotonic()
    out = case.bench(server, "--workload", "echo", "--qd", str(qd), "--connections",
                     str(connections), "--duration", str(duration))
    u1, s1 = proc_cpu(server.proc.pid)
    q1, i1, t1 = softirq_seconds(), ipis(), time.monotonic()
    w = out[0]
    reqs = w.get("ops", 0)
    return {"steer": steer, "requests": reqs, "requests_per_s": reqs / duration,
            "xsmbd_user_us_per_req": 1e6 * (u1 - u0) / reqs,
            "xsmbd_sys_us_per_req": 1e6 * (s1 - s0) / reqs,
            "softirq_us_per_req": 1e6 * (q1 - q0) / reqs,
            "ipis_per_req": (i1 - i0) / reqs, "wall_s": t1 - t0}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=float, default=5)
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--qd", type=int, default=16)
    ap.add_argument("--out", default="")
    args = ap.parse_args()

    class Case(e2e.E2E):
        def runTest(self):
            pass

    Case.setUpClass()
    case = Case()
    results = []
    try:
        e2e.loader("load")
        server = case.start_server(bpf=True)
        case.load_and_attach(server.port)
        for r in range(args.rounds):
            for steer in ((False, True) if r % 2 == 0 else (True, False)):
                res = run_once(case, server, steer, args.duration, args.connections, args.qd)
                print(json.dumps(res))
                results.append(res)
        server.stop()
    finally:
        case.doCleanups()
        Case.tearDownClass()
    print(f"\necho, {args.connections} connections x qd {args.qd}, {args.rounds} rounds "
          f"of {args.duration} s (median, min..max)")
    keys = ["requests_per_s", "xsmbd_user_us_per_req", "xsmbd_sys_us_per_req",
            "softirq_us_per_req", "ipis_per_req"]
    print(f"{'':24s}" + "".join(f"{k:>26s}" for k in ("steering off", "steering on")))
    for k in keys:
        row = f"{k:24s}"
        for steer in (False, True):
            v = [x[k] for x in results if x["steer"] == steer]
            row += f"{statistics.median(v):>12.3f} ({min(v):.3f}..{max(v):.3f})"
        print(row)
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
