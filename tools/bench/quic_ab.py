#!/usr/bin/env python3
"""SMB over QUIC against SMB over TCP (MS-SMB2 2.1; issue 18): xsmb-bench on the same
workloads, the server's CPU per request (user and system) and throughput, in alternation.

  tools/bench/quic_ab.py --variant tcp:tcp:build/server/xsmbd \\
      --variant quic:quic:build/server/xsmbd [--variant quic-old:quic:OLD/xsmbd ...] \\
      [--rounds 3] [--duration 5] [--workloads echo,seqread-1m,seqwrite-1m,randread-4k] \\
      [--json out.json]

A variant is LABEL:TRANSPORT:XSMBD (TRANSPORT tcp, or quic with options joined by "+": gso, the
client sends in UDP GSO batches, xsmb-bench --quic_gso; xdp, the server reads QUIC in its
AF_XDP mode, "quic xdp interface", which needs --veth; XSMBD a binary; XSMBCTL and
XSMB_BENCH from the environment or the newest build*/). Every round runs every variant once,
in the order given (A B A B ...: on a machine shared with other work both see similar load),
each on a freshly started xsmbd (tests/integration/harness.py: a temporary share, one user,
"server smb transports = tcp, quic" with a self-signed certificate, a free UDP port). Each
workload is one xsmb-bench run of --duration seconds after a one-second warm-up, one
connection, --qd requests in flight, --server_pid the xsmbd: xsmb-bench reads xsmbd's CPU
(every thread, user and system apart) as its measured interval starts and ends. With
TRANSPORT quic xsmb-bench carries each connection over QUIC through its in-process tunnel
(its CPU is the client's). The table gives per variant and workload the median over the
rounds and the range (min..max) of each figure.

--veth (root): the server runs in a network namespace of its own and xsmb-bench in another,
joined by a veth pair made here (xab0 at 10.204.0.1 on the server's side, xab1 at 10.204.0.2),
so traffic crosses a real device, whose driver runs XDP natively; both namespaces are removed
at the end. The xdp variants' server attaches xsmb_quic_xdp to xab0 while it runs; the others
run with no XDP program on it.
"""

import argparse
import ctypes
import json
import os
import statistics
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))

import harness  # noqa: E402
from test_quic import free_udp_port, make_certificate  # noqa: E402

USER, PASSWORD = "quicab", "Qu1c-ab-bench"
# name -> xsmb-bench arguments
WORKLOADS = {
    "echo": ["--workload", "echo"],
    "seqread-1m": ["--workload", "seqread", "--block", "1m", "--file_size", "64m"],
    "seqwrite-1m": ["--workload", "seqwrite", "--block", "1m", "--file_size", "64m"],
    "randread-4k": ["--workload", "randread", "--block", "4k", "--file_size", "64m"],
}


NS_SRV, NS_CLI = f"xab-srv-{os.getpid()}", f"xab-cli-{os.getpid()}"
SRV_ADDR, CLI_ADDR = "10.204.0.1", "10.204.0.2"


def sh(*cmd):
    subprocess.run(cmd, check=True, capture_output=True)


def enter_veth():
    """Makes the two namespaces and the veth, and moves this process into the server's (so
    that harness.Server starts xsmbd there). Returns the function that undoes it."""
    for ns in (NS_SRV, NS_CLI):
        sh("ip", "netns", "add", ns)
    sh("ip", "link", "add", "xab0", "netns", NS_SRV, "type", "veth", "peer", "name", "xab1",
       "netns", NS_CLI)
    for ns, dev, addr in ((NS_SRV, "xab0", SRV_ADDR), (NS_CLI, "xab1", CLI_ADDR)):
        sh("ip", "-n", ns, "addr", "add", f"{addr}/24", "dev", dev)
        sh("ip", "-n", ns, "link", "set", dev, "up")
        sh("ip", "-n", ns, "link", "set", "lo", "up")
    libc = ctypes.CDLL(None, use_errno=True)
    home = os.open("/proc/self/ns/net", os.O_RDONLY)
    fd = os.open(f"/var/run/netns/{NS_SRV}", os.O_RDONLY)
    if libc.setns(fd, 0x40000000) != 0:
        raise OSError(ctypes.get_errno(), "setns")
    os.close(fd)

    def leave():
        libc.setns(home, 0x40000000)
        os.close(home)
        for ns in (NS_SRV, NS_CLI):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
    return leave


def start_server(xsmbd, tmp, transport="tcp", veth=False):
    cert, key = make_certificate(tmp)
    quic_port = free_udp_port()
    options = {"server smb transports": "tcp, quic", "tls certfile": str(cert),
               "tls keyfile": str(key), "quic port": str(quic_port)}
    if veth:
        options["interfaces"] = f"127.0.0.1 {SRV_ADDR}"
    if "xdp" in transport.split("+"):
        options["quic xdp interface"] = "xab0"
    server = harness.Server(global_options=options)
    server.xsmbd = xsmbd
    server.add_share("bench", {"read only": "no"})
    server.add_user(USER, PASSWORD)
    server.start()
    return server, cert, quic_port


def run_workload(bench, server, transport, cert, quic_port, args, name):
    cmd = [bench, "--port", str(server.port), "--user", USER, "--password", PASSWORD,
           "--share", "bench", "--json", "--progress=false", "--duration", str(args.duration),
           "--warmup", "1", "--qd", str(args.qd), "--path", "ab.bin",
           "--server_pid", str(server.proc.pid), *WORKLOADS[name]]
    opts = transport.split("+")
    if opts[0] == "quic":
        cmd += ["--transport", "quic", "--quic_port", str(quic_port), "--quic_ca", str(cert)]
    if "gso" in opts:
        cmd += ["--quic_gso"]
    if args.veth:
        cmd = ["ip", "netns", "exec", NS_CLI, *cmd, "--host", SRV_ADDR]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)}: rc {out.returncode}\n{out.stdout}\n{out.stderr}")
    r = json.loads(out.stdout[out.stdout.find("["):])[0]
    if r["errors"]:
        raise SystemExit(f"{name}: {r['errors']} errors: {r}")
    return {"ops_per_sec": r["ops_per_sec"], "mb_per_sec": r["mb_per_sec"],
            "cpu_user_us": r["server_cpu_user_us_per_req"],
            "cpu_sys_us": r["server_cpu_sys_us_per_req"], "cpu_us": r["server_cpu_us_per_req"],
            "p50_us": r["latency_us"]["p50"]}


def table(results, variants, workloads):
    keys = [("ops_per_sec", "ops/s", 0), ("mb_per_sec", "MiB/s", 1), ("cpu_us", "CPU us/req", 1),
            ("cpu_user_us", "user", 1), ("cpu_sys_us", "sys", 1), ("p50_us", "p50 us", 0)]
    lines = ["| workload | variant | " + " | ".join(k[1] for k in keys) + " |",
             "|---|---|" + "---|" * len(keys)]
    for w in workloads:
        for label, _, _ in variants:
            runs = results[label][w]
            cells = []
            for key, _, digits in keys:
                vals = [r[key] for r in runs]
                med = statistics.median(vals)
                cells.append(f"{med:.{digits}f} ({min(vals):.{digits}f}..{max(vals):.{digits}f})")
            lines.append(f"| {w} | {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--variant", action="append", required=True, help="LABEL:TRANSPORT:XSMBD")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--duration", type=float, default=5)
    p.add_argument("--qd", type=int, default=4)
    p.add_argument("--workloads", default=",".join(WORKLOADS))
    p.add_argument("--json")
    p.add_argument("--veth", action="store_true",
                   help="server and client in two namespaces joined by a veth (root)")
    args = p.parse_args()
    variants = [tuple(v.split(":", 2)) for v in args.variant]
    workloads = args.workloads.split(",")
    bench = harness.find_binary("XSMB_BENCH", "xsmb-bench")
    results = {label: {w: [] for w in workloads} for label, _, _ in variants}
    if any("xdp" in t.split("+") for _, t, _ in variants) and not args.veth:
        raise SystemExit("an xdp variant needs --veth")
    leave = enter_veth() if args.veth else None
    try:
        run_rounds(args, variants, workloads, bench, results)
    finally:
        if leave:
            leave()
    print(table(results, variants, workloads))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"variants": variants, "results": results}, f, indent=1)


def run_rounds(args, variants, workloads, bench, results):
    for rnd in range(args.rounds):
        for label, transport, xsmbd in variants:
            tmp = harness.make_temp_dir("quic-ab-")
            server, cert, quic_port = start_server(xsmbd, tmp, transport, args.veth)
            try:
                if "xdp" in transport.split("+") and "quic xdp:" not in server.xsmbctl_status():
                    raise SystemExit(f"{label}: AF_XDP mode did not start:\n{server.log()}")
                for w in workloads:
                    r = run_workload(bench, server, transport, cert, quic_port, args, w)
                    results[label][w].append(r)
                    print(f"round {rnd + 1} {label} {w}: {r}", file=sys.stderr, flush=True)
            finally:
                server.stop()


if __name__ == "__main__":
    main()
