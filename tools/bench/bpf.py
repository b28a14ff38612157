"""xsmbd with and without its BPF data plane, in one run (issue 5's benchmark; not a test).

Two xsmbd instances serve the same share on 127.0.0.1: one in plain socket mode, one with
`bpf = yes` whose programs xsmb-loader loaded and attached to `lo` (XDP in generic mode, since
loopback has no native XDP, and the TC egress latency program) under a private pin directory.
Workloads run in alternation, several rounds: smbtorture smb2.bench.echo (nprocs 8, qdepth 8),
smb2.bench.path-contention-shared (nprocs 4, qdepth 4) and a 1 MiB sequential read with
xsmb-bench. Prints medians and the ratio bpf/plain for each (the issue's bound: BPF mode no
more than 3% slower). Run as root: `sudo python3 tools/bench/bpf.py` after building
(XSMBD, XSMBCTL, XSMB_BENCH and XSMB_LOADER name the binaries; defaults under build/).
Nothing is sent anywhere but 127.0.0.1.
"""

import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402  (shares its server setup, workloads and cleanup)

BUILD = Path(os.environ.get("BUILD_DIR", bench.REPO / "build"))
for var, rel in (("XSMBD", "server/xsmbd"), ("XSMBCTL", "tools/xsmbctl/xsmbctl"),
                 ("XSMB_BENCH", "tools/xsmb-bench/xsmb-bench"),
                 ("XSMB_LOADER", "loader/xsmb-loader")):
    os.environ.setdefault(var, str(BUILD / rel))
PIN = "/sys/fs/bpf/xsmb-bench-" + str(os.getpid())


def loader(*args):
    r = subprocess.run([os.environ["XSMB_LOADER"], "--pin-dir", PIN, *args],
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError(f"xsmb-loader {' '.join(args)}: {r.stdout}{r.stderr}")
    return r.stdout


def with_options(server, options):
    text = server.conf.read_text().replace(
        "[global]\n", "[global]\n" + "".join(f"  {k} = {v}\n" for k, v in options.items()), 1)
    server.conf.write_text(text)


def main():
    if os.geteuid() != 0:
        sys.exit("bpf.py: run as root (BPF programs, XDP on lo)")
    bench.ensure_user()
    root = Path(tempfile.mkdtemp(prefix="xsmb-bpf-bench-"))
    share = root / "share"
    bench.prepare_share(share)
    (root / "plain").mkdir()
    (root / "bpf").mkdir()
    plain = bench.Server("xsmbd", root / "plain", share)
    accel = bench.Server("xsmbd", root / "bpf", share)
    loader("load", "--port", str(accel.port))
    try:
        loader("attach", "lo", "--mode", "generic")
        with_options(accel, {"bpf": "yes", "bpf pin dir": PIN})
        plain.start()
        accel.start()
        workloads = {
            "echo ops/s": lambda s: bench.smbtorture(s, "smb2.bench.echo", 8, 8, "echo"),
            "path-contention-shared ops/s": lambda s: bench.smbtorture(
                s, "smb2.bench.path-contention-shared", 4, 4, "open"),
            "seqread-1m MB/s": lambda s: bench.xsmb_bench(
                s, ["--workload", "seqread", "--block", "1m", "--qd", "8", "--path", "big.bin",
                    "--file_size", f"{bench.BIG_MB}m"]),
        }
        results = {name: {"plain": [], "bpf": []} for name in workloads}
        for rnd in range(bench.ROUNDS):
            order = [("plain", plain), ("bpf", accel)]
            if rnd % 2:
                order.reverse()
            for name, fn in workloads.items():
                for label, server in order:
                    value = fn(server)
                    results[name][label].append(value)
                    bench.log(f"round {rnd + 1}: {name:30s} {label:5s} {value:12.1f}")
        print(f"\nxsmbd with / without BPF, {bench.ROUNDS} round(s) of {bench.DURATION:.0f} s, "
              f"commit {bench.commit()}")
        print(f"{'workload':32s} {'plain':>12s} {'bpf':>12s} {'ratio':>7s}  within 3%")
        for name, r in results.items():
            p, b = statistics.median(r["plain"]), statistics.median(r["bpf"])
            ratio = b / p if p else 0.0
            print(f"{name:32s} {p:12.1f} {b:12.1f} {ratio:7.3f}  {'yes' if ratio >= 0.97 else 'NO'}")
        print(loader("status"))
    finally:
        for server in (plain, accel):
            if server and server.proc:
                bench.stop(server.proc)
        subprocess.run([os.environ["XSMB_LOADER"], "--pin-dir", PIN, "detach", "lo"],
                       capture_output=True)
        subprocess.run([os.environ["XSMB_LOADER"], "--pin-dir", PIN, "unload"],
                       capture_output=True)


if __name__ == "__main__":
    main()
