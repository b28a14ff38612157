#!/usr/bin/env python3
"""Server CPU per request: two xsmbd builds (A = before, B = after) in the same run.

  tools/bench/cpu_ab.py --a OLD/server/xsmbd --b build/server/xsmbd \\
      --xsmbctl build/tools/xsmbctl/xsmbctl --xsmb-bench build/tools/xsmb-bench/xsmb-bench \\
      [--rounds 3] [--duration 5] [--workloads echo,randread-4k,...] [--out cpu_ab.json]

Every round runs every workload once on A and once on B, alternating (A B A B ... by default,
--order abba flips who goes first each round), each on a freshly started xsmbd (started as
tools/bench/bench.py starts it: a temporary share, users.db made with `xsmbctl user add`, an
smb.conf on a free 127.0.0.1 port, --foreground, its own session, stopped by pid in a finally).
xsmb-bench drives the load for --duration seconds after a one-second warm-up. The server's CPU
time (user + system, every thread of xsmbd and of its xsmb-rpcd child) is read at the start
and at the end of xsmb-bench's measured interval: xsmb-bench prints a progress line on stderr
once a second, the first at the moment the warm-up ends and the last when the interval ends,
and the CPU clocks are read as each line arrives. The client's CPU is read at the same moments.

Per run: requests/s = xsmb-bench's completed ops in the interval x SMB2 requests per op (the
create workload's op is a CREATE and a CLOSE: 2) / the interval, and server CPU per request =
(server CPU seconds / wall seconds between the two readings) / requests per second. On a small
machine the client saturates before the server does, so throughput alone says little; CPU per
request is what the server spends on each request. Per workload the table gives the median over
the rounds for A and B, B/A, and each side's min..max; "ranges" says whether the rounds of A
and B overlap (with 3 rounds each, disjoint ranges happen by chance 10 % of the time). Running
A against itself (--b = --a) shows the noise of this machine.

Both binaries (with the xsmb-rpcd found next to them or in ../rpc, as xsmbd looks for it),
xsmbctl and xsmb-bench are copied into the temporary directory first, so a rebuild during the
run changes nothing; their SHA-256 go into the JSON.

As root (as here), xsmbd switches to the share user's identity for file access: the user
`xsmbbench` is created if missing (as bench.py does) and owns the share. As another user
xsmbd runs as that user and serves the share as it; no root needed.
"""

import argparse
import hashlib
import json
import os
import pwd
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

# The server and process helpers are bench.py's, so both benchmarks start and stop servers alike.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import HOST, PASSWORD, USER  # noqa: E402
from bench import ensure_user, free_port, log, med, stop  # noqa: E402
from procstat import cpu_method, cpu_seconds, session_pids  # noqa: E402

REPO = Path(__file__).resolve().parent.parent.parent  # the default tool paths: REPO/build/...

# name: (xsmb-bench arguments, SMB2 requests per completed op, description)
WORKLOADS = {
    "echo": (["--workload", "echo", "--connections", "8", "--qd", "8", "--threads", "2"], 1,
             "ECHO, 8 connections x qd 8, 2 client threads"),
    "randread-4k": (["--workload", "randread", "--block", "4k", "--qd", "32",
                     "--path", "big.bin"], 1, "4 KiB random READ of a cached file, qd 32"),
    "seqread-1m": (["--workload", "seqread", "--block", "1m", "--qd", "8", "--path", "big.bin"],
                   1, "1 MiB sequential READ of a cached file, qd 8"),
    "seqwrite-1m": (["--workload", "seqwrite", "--block", "1m", "--qd", "8",
                     "--path", "write.bin"], 1, "1 MiB sequential WRITE over an existing file, qd 8"),
    "randwrite-4k": (["--workload", "randwrite", "--block", "4k", "--qd", "32",
                      "--path", "write.bin"], 1, "4 KiB random WRITE, qd 32"),
    "create": (["--workload", "create", "--connections", "4", "--qd", "4", "--threads", "2",
                "--path", "cc\\f"], 2, "CREATE + CLOSE (2 requests per op), 4 connections x qd 4"),
    "open": (["--workload", "open", "--connections", "4", "--qd", "4", "--threads", "2"], 2,
             "CREATE (share root, FILE_READ_ATTRIBUTES) + CLOSE, as path-contention-shared"),
    "open-mxac": (["--workload", "open", "--path", "big.bin", "--mxac", "--connections", "4",
                   "--qd", "4", "--threads", "2"], 2,
                  "CREATE (a file, FILE_READ_ATTRIBUTES, MxAc as Windows asks) + CLOSE"),
    "create-mxac": (["--workload", "create", "--connections", "4", "--qd", "4", "--threads", "2",
                     "--path", "cc\\f", "--mxac"], 2,
                    "CREATE (FILE_READ_DATA, MxAc as Windows asks) + CLOSE, 4 connections x qd 4"),
    "list": (["--workload", "list", "--path", "list"], 1,
             "QUERY_DIRECTORY of a 500-file directory (CREATE, listing, CLOSE), qd 1"),
    "stat": (["--workload", "stat", "--qd", "8", "--path", "big.bin"], 1,
             "QUERY_INFO FileAllInformation, qd 8"),
}
LIST_FILES = 500  # files in list/ (the list workload; fewer than the look-aside table holds)
DEFAULT_WORKLOADS = "echo,randread-4k,seqread-1m,seqwrite-1m,create"
WRITES = {"seqwrite-1m", "randwrite-4k"}  # preceded by a sync, as in bench.py
PROGRESS = re.compile(r"^\[(\w+)\]\s+(-?\d+(?:\.\d+)?)s (warmup|running)")

procs = []


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def rpcd_for(xsmbd):
    """The xsmb-rpcd that this xsmbd would start (next to it, or ../rpc), or None."""
    d = Path(xsmbd).resolve().parent
    for c in (d / "xsmb-rpcd", d.parent / "rpc" / "xsmb-rpcd"):
        if os.access(c, os.X_OK):
            return c
    return None


def snapshot(src, dst_dir, name):
    dst_dir.mkdir(parents=True, exist_ok=True)
    dst = dst_dir / name
    shutil.copy2(src, dst)
    os.chmod(dst, 0o755)
    return dst


class Build:
    """One side of the comparison: a copy of an xsmbd binary (with its rpcd next to it)."""

    def __init__(self, label, path, root):
        self.label, self.source = label, Path(path).resolve()
        bindir = root / f"bin-{label}"
        self.xsmbd = snapshot(self.source, bindir, "xsmbd")
        rpcd = rpcd_for(self.source)
        self.rpcd_source = rpcd
        if rpcd:
            snapshot(rpcd, bindir, "xsmb-rpcd")
        else:
            log(f"{label}: no xsmb-rpcd next to {self.source}; xsmbd runs without it")
        self.sha256 = sha256(self.xsmbd)


class Server:
    def __init__(self, build, root, share, xsmbctl, unix_user, extra_args, run_id,
                 global_options=()):
        self.build = build
        self.dir = root / "runs" / run_id
        self.dir.mkdir(parents=True)
        os.chmod(self.dir, 0o755)
        self.port = free_port()
        self.conf = self.dir / "smb.conf"
        self.log = self.dir / "server.log"
        self.conf.write_text("\n".join([
            "[global]", f"  smb ports = {self.port}", f"  interfaces = {HOST}",
            "  bind interfaces only = yes", "  netbios name = CPUAB", "  workgroup = WORKGROUP",
            f"  smb passwd file = {self.dir / 'users.db'}"] +
            [f"  {o}" for o in global_options] + ["",
            "[bench]", f"  path = {share}", "  read only = no", ""]))
        r = subprocess.run([str(xsmbctl), "--db", str(self.dir / "users.db"), "user", "add", USER,
                            "--unix-user", unix_user], input=PASSWORD + "\n", text=True,
                           capture_output=True)
        if r.returncode != 0:
            raise RuntimeError(f"xsmbctl user add failed ({r.returncode}): "
                               f"{(r.stdout + r.stderr).strip()[-500:]}")
        self.cmd = [str(build.xsmbd), "--config", str(self.conf), "--foreground",
                    "--log-level", "1"] + extra_args
        self.proc = None
        self.pids = []

    def start(self):
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(self.cmd, stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        procs.append(self.proc)
        deadline = time.time() + 15
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"xsmbd {self.build.label} exited with {self.proc.returncode}: "
                                   f"{self.log_tail()}")
            try:
                with socket.create_connection((HOST, self.port), timeout=0.5):
                    break
            except OSError:
                if time.time() > deadline:
                    raise RuntimeError(f"xsmbd {self.build.label}: nothing listens on {self.port}")
                time.sleep(0.05)
        time.sleep(0.5)  # the rpcd child is forked at start-up
        self.pids = session_pids(self.proc.pid)

    def cpu(self):
        return sum(cpu_seconds(p) for p in self.pids)

    def log_tail(self):
        try:
            return self.log.read_text(errors="replace")[-600:]
        except OSError:
            return ""


def run_bench(server, bench_bin, workload, args):
    """Runs one workload; returns the measurement of its interval."""
    wargs, per_op, _ = WORKLOADS[workload]
    cmd = [str(bench_bin), "--host", HOST, "--port", str(server.port), "--user", USER,
           "--password", PASSWORD, "--share", "bench", "--json", "--progress=true",
           "--duration", str(args.duration), "--warmup", str(args.warmup),
           "--file_size", f"{args.file_mb}m"] + wargs
    bench = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             stdin=subprocess.DEVNULL, start_new_session=True)
    procs.append(bench)
    out = []
    reader = threading.Thread(target=lambda: out.append(bench.stdout.read()), daemon=True)
    reader.start()
    killer = threading.Timer(args.duration + args.warmup + 120, lambda: stop(bench))
    killer.start()
    samples = []  # (monotonic s, x as printed, server CPU s, client CPU s)
    errtext = []
    try:
        for line in bench.stderr:
            m = PROGRESS.match(line)
            if m:
                # Read the clocks first: the line was written at this moment.
                t = time.monotonic()
                srv = server.cpu()
                cli = cpu_seconds(bench.pid)
                samples.append((t, float(m.group(2)), srv, cli))
            else:
                errtext.append(line)
        rc = bench.wait()
    finally:
        killer.cancel()
        stop(bench)
    reader.join(timeout=10)
    stdout = out[0] if out else ""
    start = stdout.find("[")
    if rc != 0 or start < 0:
        raise RuntimeError(f"xsmb-bench {workload} failed ({rc}): "
                           f"{(stdout + ''.join(errtext))[-800:]}")
    res = json.loads(stdout[start:stdout.rfind("]") + 1])[0]
    # The interval starts where the warm-up ends: the first line printed at x >= 0 (with a
    # whole-second warm-up it comes within a millisecond of the start) and ends at the last.
    window = [s for s in samples if s[1] >= -0.05]
    if len(window) < 2:
        raise RuntimeError(f"xsmb-bench {workload}: too few progress lines ({len(samples)})")
    (t0, x0, s0, c0), (t1, x1, s1, c1) = window[0], window[-1]
    wall = t1 - t0
    if wall < 0.5 * args.duration:
        raise RuntimeError(f"xsmb-bench {workload}: CPU sampled over {wall:.2f} s only")
    if not server.proc or server.proc.poll() is not None:
        raise RuntimeError(f"xsmbd {server.build.label} died: {server.log_tail()}")
    requests = res["ops"] * per_op
    req_per_s = requests / res["seconds"] if res["seconds"] > 0 else 0.0
    if req_per_s <= 0:
        raise RuntimeError(f"xsmb-bench {workload}: no request completed "
                           f"({res['errors']} errors)")
    server_cores = (s1 - s0) / wall
    client_cores = (c1 - c0) / wall
    return {
        "ops": res["ops"], "requests": requests, "seconds": res["seconds"],
        "requests_per_sec": req_per_s, "mb_per_sec": res["mb_per_sec"],
        "errors": res["errors"], "reconnects": res["reconnects"],
        "cpu_window_s": wall, "server_cpu_s": s1 - s0, "client_cpu_s": c1 - c0,
        "server_cores": server_cores, "client_cores": client_cores,
        "server_cpu_us_per_request": server_cores / req_per_s * 1e6,
        "client_cpu_us_per_request": client_cores / req_per_s * 1e6,
        "latency_us_p50": res["latency_us"]["p50"], "latency_us_p99": res["latency_us"]["p99"],
    }


def prepare_share(root, file_mb, owner):
    share = root / "share"
    share.mkdir()
    log(f"share: writing {file_mb} MiB big.bin and write.bin")
    chunk = os.urandom(1 << 20)
    for name in ("big.bin", "write.bin"):
        with open(share / name, "wb") as f:
            for i in range(file_mb):
                f.write(chunk[i % 251:] + chunk[:i % 251])
    (share / "cc").mkdir()
    (share / "list").mkdir()
    for i in range(LIST_FILES):
        (share / "list" / f"file-{i:05d}.txt").touch()
    if owner is not None:
        subprocess.run(["chown", "-R", owner, str(share)], check=True)
    subprocess.run(["chmod", "-R", "a+rwX", str(share)], check=True)
    return share


def check_binary(opt, path):
    if not path:
        sys.exit(f"cpu_ab.py: {opt} is required")
    p = Path(path)
    if not p.is_file():
        sys.exit(f"cpu_ab.py: {opt} {path}: no such file (build it first)")
    if not os.access(p, os.X_OK):
        sys.exit(f"cpu_ab.py: {opt} {path}: not executable")


def source_dir(build_dir):
    """The source tree a CMake build directory was configured from (CMakeCache.txt), or None."""
    try:
        for line in (build_dir / "CMakeCache.txt").read_text(errors="replace").splitlines():
            if line.startswith("CMAKE_HOME_DIRECTORY:"):
                return Path(line.split("=", 1)[1])
    except OSError:
        pass
    return None


def git_rev(path):
    """The commit of the checkout a binary was built in (build/.. or build/server/.., or the
    source tree of an out-of-tree build directory), if any."""
    for d in Path(path).resolve().parents:
        src = source_dir(d)
        if src is not None and (src / ".git").exists():
            d = src
        if (d / ".git").exists():
            r = subprocess.run(["git", "-C", str(d), "rev-parse", "--short=12", "HEAD"],
                               capture_output=True, text=True)
            if r.returncode == 0:
                dirty = subprocess.run(["git", "-C", str(d), "status", "--porcelain",
                                        "--untracked-files=no"], capture_output=True,
                                       text=True).stdout.strip()
                return r.stdout.strip() + ("-dirty" if dirty else "")
            return None
    return None


def num(v):
    return f"{v:.1f}" if v >= 100 else f"{v:.2f}"


def spread(values):
    return f"{num(min(values))}..{num(max(values))}" if values else "-"


def overlap(a, b):
    if len(a) < 2 or len(b) < 2:
        return "-"  # one round says nothing about the noise
    if min(b) > max(a):
        return "B above"
    if max(b) < min(a):
        return "B below"
    return "overlap"


def report(args, builds, workloads, results, meta):
    doc = dict(meta)
    doc["workloads"] = {}
    print(f"\nServer CPU per request, A = {builds['A'].source} (checkout at "
          f"{meta['a']['commit'] or '?'}), B = {builds['B'].source} (checkout at "
          f"{meta['b']['commit'] or '?'})")
    print(f"{args.rounds} round(s) x {args.duration:g} s per workload and build, order "
          f"{args.order}, {os.cpu_count()} CPUs, server CPU from {meta['cpu_clock']}")
    hdr = (f"{'workload':13s} {'A us/req':>9s} {'B us/req':>9s} {'B/A':>6s} "
           f"{'A min..max':>15s} {'B min..max':>15s} {'ranges':>8s}  "
           f"{'A req/s':>9s} {'B req/s':>9s} {'B/A':>6s}  {'srv CPUs A/B':>12s} "
           f"{'cli CPUs A/B':>12s}")
    print(hdr)
    print("-" * len(hdr))
    for w in workloads:
        ra, rb = results[w]["A"], results[w]["B"]
        ua = [r["server_cpu_us_per_request"] for r in ra]
        ub = [r["server_cpu_us_per_request"] for r in rb]
        qa = [r["requests_per_sec"] for r in ra]
        qb = [r["requests_per_sec"] for r in rb]
        ma, mb, mqa, mqb = med(ua), med(ub), med(qa), med(qb)
        ratio = mb / ma if ma and mb else None
        qratio = mqb / mqa if mqa and mqb else None
        sa = med([r["server_cores"] for r in ra])
        sb = med([r["server_cores"] for r in rb])
        ca = med([r["client_cores"] for r in ra])
        cb = med([r["client_cores"] for r in rb])
        doc["workloads"][w] = {
            "description": WORKLOADS[w][2], "requests_per_op": WORKLOADS[w][1],
            "A": ra, "B": rb,
            "median_A_server_cpu_us_per_request": ma, "median_B_server_cpu_us_per_request": mb,
            "ratio_B_over_A_cpu_per_request": ratio,
            "median_A_requests_per_sec": mqa, "median_B_requests_per_sec": mqb,
            "ratio_B_over_A_requests_per_sec": qratio,
            "median_A_server_cores": sa, "median_B_server_cores": sb,
            "median_A_client_cores": ca, "median_B_client_cores": cb,
            "ranges": overlap(ua, ub),
        }
        f = lambda v, spec: format(v, spec) if v is not None else "-"  # noqa: E731
        cores = lambda x, y: (f"{x:.2f}/{y:.2f}" if x is not None and y is not None  # noqa: E731
                              else "-")
        print(f"{w:13s} {f(ma, '9.2f'):>9s} {f(mb, '9.2f'):>9s} {f(ratio, '6.3f'):>6s} "
              f"{spread(ua):>15s} {spread(ub):>15s} {overlap(ua, ub):>8s}  "
              f"{f(mqa, '9.0f'):>9s} {f(mqb, '9.0f'):>9s} {f(qratio, '6.3f'):>6s}  "
              f"{cores(sa, sb):>12s} {cores(ca, cb):>12s}")
    print("us/req: server CPU microseconds per SMB2 request (median over rounds); srv/cli CPUs: "
          "CPUs busy in the server / xsmb-bench during the interval")
    if meta.get("failures"):
        print(f"{len(meta['failures'])} run(s) failed: see stderr and the JSON")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(doc, indent=2) + "\n")
        print(f"JSON: {args.out}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="workloads: " + ", ".join(
                                     f"{k} ({v[2]})" for k, v in WORKLOADS.items()))
    ap.add_argument("--a", required=True, help="xsmbd binary A (before)")
    ap.add_argument("--b", required=True, help="xsmbd binary B (after)")
    ap.add_argument("--xsmbctl", default=str(REPO / "build/tools/xsmbctl/xsmbctl"))
    ap.add_argument("--xsmb-bench", dest="xsmb_bench",
                    default=str(REPO / "build/tools/xsmb-bench/xsmb-bench"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=float, default=5.0, help="measured seconds per run")
    ap.add_argument("--warmup", type=int, default=1,
                    help="whole seconds before the interval (the progress lines, on which the "
                         "CPU is read, then fall on its start)")
    ap.add_argument("--workloads", default=DEFAULT_WORKLOADS)
    ap.add_argument("--order", choices=("abab", "abba"), default="abab",
                    help="abab: A first in every round; abba: who goes first alternates")
    ap.add_argument("--file-mb", dest="file_mb", type=int, default=256,
                    help="size of big.bin (reads) and write.bin (writes), MiB")
    ap.add_argument("--server-arg", dest="server_args", action="append", default=[],
                    help="extra xsmbd argument for both builds (repeatable)")
    ap.add_argument("--global", dest="global_options", action="append", default=[],
                    help='smb.conf [global] line for both builds, e.g. "busy poll = 0" '
                         "(repeatable)")
    ap.add_argument("--out", help="JSON file")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args()

    check_binary("--a", args.a)
    check_binary("--b", args.b)
    check_binary("--xsmbctl", args.xsmbctl)
    check_binary("--xsmb-bench", args.xsmb_bench)
    workloads = [w.strip() for w in args.workloads.split(",") if w.strip()]
    unknown = [w for w in workloads if w not in WORKLOADS]
    if unknown or not workloads:
        sys.exit(f"cpu_ab.py: unknown workload(s) {', '.join(unknown) or '(none)'}; "
                 f"known: {', '.join(WORKLOADS)}")
    if args.rounds < 1 or args.duration <= 0 or args.warmup < 1:
        sys.exit("cpu_ab.py: --rounds >= 1, --duration > 0 and --warmup >= 1 please")

    if os.geteuid() == 0:
        ensure_user()
        unix_user, owner = USER, USER
    else:
        unix_user, owner = pwd.getpwuid(os.geteuid()).pw_name, None
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    root = Path(tempfile.mkdtemp(prefix="xsmb-cpu-ab-"))
    os.chmod(root, 0o755)  # the share user must reach the share under it
    failures = []
    try:
        builds = {"A": Build("A", args.a, root), "B": Build("B", args.b, root)}
        tools = root / "bin"
        xsmbctl = snapshot(args.xsmbctl, tools, "xsmbctl")
        bench_bin = snapshot(args.xsmb_bench, tools, "xsmb-bench")
        if builds["A"].sha256 == builds["B"].sha256:
            log("note: A and B are the same binary (an A/A run: the table shows the noise)")
        share = prepare_share(root, args.file_mb, owner)
        meta = {
            "date": time.strftime("%Y-%m-%d %H:%M:%S %z"), "rounds": args.rounds,
            "duration_s": args.duration, "warmup_s": args.warmup, "order": args.order,
            "file_mib": args.file_mb, "cpus": os.cpu_count(), "kernel": os.uname().release,
            "run_as": pwd.getpwuid(os.geteuid()).pw_name, "share_user": unix_user,
            "server_args": args.server_args,
            "global_options": args.global_options,
            "cpu_clock": cpu_method(os.getpid()),
            "xsmbctl": str(Path(args.xsmbctl).resolve()),
            "xsmb_bench": str(Path(args.xsmb_bench).resolve()),
            "xsmb_bench_sha256": sha256(bench_bin),
        }
        for k in ("A", "B"):
            b = builds[k]
            meta[k.lower()] = {"xsmbd": str(b.source), "sha256": b.sha256,
                               "rpcd": str(b.rpcd_source) if b.rpcd_source else None,
                               "commit": git_rev(b.source),
                               "commit_note": "HEAD of the checkout holding the binary, at the "
                                              "start of the run (not proof of what was built)"}
        results = {w: {"A": [], "B": []} for w in workloads}
        for rnd in range(args.rounds):
            order = ["A", "B"] if args.order == "abab" or rnd % 2 == 0 else ["B", "A"]
            for w in workloads:
                for k in order:
                    run_id = f"r{rnd + 1}-{w}-{k}"
                    if w in WRITES:
                        os.sync()  # no writeback of the previous run lands on this one
                    server = None
                    try:
                        server = Server(builds[k], root, share, xsmbctl, unix_user,
                                        args.server_args, run_id, args.global_options)
                        server.start()
                        r = run_bench(server, bench_bin, w, args)
                    except Exception as e:  # noqa: BLE001 - one failure must not end the run
                        log(f"round {rnd + 1}/{args.rounds}: {w} on {k}: FAILED: {e}")
                        failures.append({"run": run_id, "error": str(e)})
                        continue
                    finally:
                        if server and server.proc:
                            stop(server.proc)
                    results[w][k].append(r)
                    warn = f" ({r['errors']} errors)" if r["errors"] else ""
                    log(f"round {rnd + 1}/{args.rounds}: {w:13s} {k} "
                        f"{r['server_cpu_us_per_request']:9.2f} us/req "
                        f"{r['requests_per_sec']:10.0f} req/s  server {r['server_cores']:.2f} "
                        f"CPUs, client {r['client_cores']:.2f} CPUs{warn}")
        meta["failures"] = failures
        report(args, builds, workloads, results, meta)
    finally:
        for p in procs:
            stop(p)
        if args.keep:
            log(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
