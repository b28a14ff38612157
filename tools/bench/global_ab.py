#!/usr/bin/env python3
"""Server CPU per request of one xsmbd binary under two [global] settings, smbtorture as client.

  XSMBD=build/server/xsmbd XSMBCTL=build/tools/xsmbctl/xsmbctl \\
    tools/bench/global_ab.py --a "busy poll = 0" --b "io uring sockets = yes; busy poll = 0" \\
      [--rounds 4] [--duration 10] [--tests echo,path-contention-shared] [--out ab.json] \\
      [--a-xsmbd OLD/server/xsmbd --b-xsmbd NEW/server/xsmbd]

Both servers run side by side on one share (started as tools/bench/bench.py starts xsmbd),
and every round runs each smbtorture smb2.bench test once against A and once against B, the
order flipped each round (A B, B A, ...). Throughput and the server's CPU per SMB2 request are
measured as bench.py measures them (smbtorture_measured: the CPU of xsmbd's process tree read
as smbtorture's first and last rate lines arrive). It prints every run, then per test the median
of each side and B/A. Cpu_ab.py does the same for two binaries under xsmb-bench's workloads.
"""

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import bench  # noqa: E402

TESTS = {  # name -> (smbtorture test, nprocs, qdepth, counter), as bench.py runs them
    "echo": ("smb2.bench.echo", 8, 8, "echo"),
    "path-contention-shared": ("smb2.bench.path-contention-shared", 4, 4, "open"),
}


def start(label, options, root, share, binary=None):
    bench.XSMBD_GLOBAL = options
    if binary:  # bench.Server starts $XSMBD
        os.environ["XSMBD"] = binary
    home = root / label
    home.mkdir()
    server = bench.Server("xsmbd", home, share)
    server.start()
    return server


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--a", required=True, help='[global] lines of A, ";"-separated')
    ap.add_argument("--b", required=True, help='[global] lines of B, ";"-separated')
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--tests", default=",".join(TESTS))
    ap.add_argument("--a-xsmbd", help="xsmbd binary of A (default $XSMBD)")
    ap.add_argument("--b-xsmbd", help="xsmbd binary of B (default $XSMBD): two builds compared")
    ap.add_argument("--out", help="JSON file")
    args = ap.parse_args()
    bench.DURATION = args.duration
    bench.ensure_user()
    root = Path(tempfile.mkdtemp(prefix="xsmb-global-ab-"))
    os.chmod(root, 0o755)
    share = root / "share"
    share.mkdir()
    os.chmod(share, 0o777)
    bench.subprocess.run(["chown", bench.USER, str(share)], check=True)
    runs = {t: {"a": [], "b": []} for t in args.tests.split(",")}
    try:
        default = os.environ["XSMBD"]
        servers = {"a": start("a", args.a, root, share, args.a_xsmbd or default),
                   "b": start("b", args.b, root, share, args.b_xsmbd or default)}
        for r in range(args.rounds):
            order = ("a", "b") if r % 2 == 0 else ("b", "a")
            for test in runs:
                for side in order:
                    name, nprocs, qdepth, counter = TESTS[test]
                    rate, cpu = bench.smbtorture_measured(servers[side], name, nprocs, qdepth,
                                                          counter)
                    runs[test][side].append({"rate": rate, "cpu": cpu})
                    total = cpu["total_us"] if cpu else float("nan")
                    print(f"round {r + 1}: {test:24} {side}  {rate:10.1f}/s  "
                          f"{total:7.2f} us/request", flush=True)
    finally:
        for p in bench.procs:
            bench.stop(p)
        shutil.rmtree(root, ignore_errors=True)
    print(f"\nA: {args.a}\nB: {args.b}")
    for test, sides in runs.items():
        med = {s: statistics.median(x["cpu"]["total_us"] for x in v if x["cpu"])
               for s, v in sides.items()}
        rate = {s: statistics.median(x["rate"] for x in v) for s, v in sides.items()}
        print(f"{test:24} A {med['a']:7.2f} us ({rate['a']:9.1f}/s)   "
              f"B {med['b']:7.2f} us ({rate['b']:9.1f}/s)   B/A {med['b'] / med['a']:.2f}")
    if args.out:
        Path(args.out).write_text(json.dumps({"a": args.a, "b": args.b, "runs": runs}, indent=1))


if __name__ == "__main__":
    main()
