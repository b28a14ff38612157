"""xsmbd with and without its BPF data plane, in one run (issue 5's benchmark; not a test).

Three xsmbd instances serve the same share: `plain` (plain socket mode), `bpf` (`bpf = yes`:
XDP + TC egress on its link, reuseport program, session records, server latency) and
`sockmap` (the same plus `bpf sockmap = yes`: every connection under the sockhash verdict).

Topology (default): the servers run in a network namespace `srv`, the clients (smbtorture,
xsmb-bench) in a namespace `cli`, joined by one veth pair per server that the script creates
and removes (10.203.0.1 plain, 10.204.0.1 bpf, 10.205.0.1 sockmap). `bpf` and `sockmap` each
have their own pin directory (one xsmbd per pin directory is the supported setup: they would
otherwise share `xsmb_workers`, and one server's reuseport program would fail over to the
kernel's hash) with xsmb's XDP program attached in native mode (veth's driver XDP) and the TC
egress program on their veth. The comparison is kept fair by giving `plain`'s veth a
two-instruction XDP program that returns XDP_PASS, attached in native mode too: native XDP
on a veth changes the link itself (the receiving veth runs NAPI with GRO, the peer's GSO is
turned off), and that cost or gain belongs to neither server. PASS_XDP=0 leaves plain's veth
without XDP (the setup of the first measurements). With LO=1 the old topology is used
instead: everything on 127.0.0.1, XDP in generic mode on `lo` (loopback has no native XDP).

Workloads run in alternation, several rounds: smbtorture smb2.bench.echo (nprocs 8, qdepth 8),
smb2.bench.path-contention-shared (nprocs 4, qdepth 4) and a 1 MiB sequential read with
xsmb-bench. Prints medians and the ratio to plain for each (the issue's bound: BPF mode no
more than 3% slower). Run as root: `sudo QUICK=1 python3 tools/bench/bpf.py` after building
(XSMBD, XSMBCTL, XSMB_BENCH and XSMB_LOADER name the binaries; defaults under BUILD_DIR or
build/). Nothing leaves the namespaces (or 127.0.0.1).
"""

import ctypes
import os
import socket
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
PIN = {label: f"/sys/fs/bpf/xsmb-bench-{os.getpid()}-{label}" for label in ("bpf", "sockmap")}
LO = os.environ.get("LO") == "1"
PASS_XDP = os.environ.get("PASS_XDP", "1") == "1"
# BPF_STATS=1: kernel.bpf_stats_enabled during the run, then each program's run count and
# average run time (it adds two clock reads per program run, so not for the ratios).
BPF_STATS = os.environ.get("BPF_STATS") == "1"
# WORKLOADS=echo,seqread: only the workloads whose names start with one of these.
WORKLOADS = [w for w in os.environ.get("WORKLOADS", "").split(",") if w]
TAG = f"xsb{os.getpid() % 100000}"
NS_SRV, NS_CLI = f"{TAG}s", f"{TAG}c"
# (server-side veth, client-side veth, server address, client address) per link
LINKS = {"plain": (f"{TAG}p", f"{TAG}q", "10.203.0.1", "10.203.0.2"),
         "bpf": (f"{TAG}b", f"{TAG}c", "10.204.0.1", "10.204.0.2"),
         "sockmap": (f"{TAG}s", f"{TAG}t", "10.205.0.1", "10.205.0.2")}
CLONE_NEWNET = 0x40000000
# bpf(2) commands and constants (linux/bpf.h, linux/if_link.h)
BPF_PROG_LOAD, BPF_LINK_CREATE = 5, 28
BPF_PROG_TYPE_XDP, BPF_XDP, XDP_FLAGS_DRV_MODE, XDP_PASS = 6, 37, 1 << 2, 2
SYS_BPF = 321  # x86_64


def sh(*cmd, check=True):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {r.stdout}{r.stderr}")
    return r.stdout


def loader(label, *args):
    return sh(os.environ["XSMB_LOADER"], "--pin-dir", PIN[label], *args)


def attach_xdp_pass(dev):
    """Attaches `r0 = XDP_PASS; exit` to dev in native mode through a BPF link; returns the
    link's fd (the program stays attached while it is open). No object file, no pin."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    insns = (ctypes.c_uint64 * 2)(
        0x00000000000000b7 | (XDP_PASS << 32),  # BPF_ALU64 | BPF_MOV | BPF_K, r0 = imm
        0x0000000000000095)                     # BPF_JMP | BPF_EXIT
    license_ = ctypes.create_string_buffer(b"GPL")
    attr = (ctypes.c_uint8 * 160)()
    ctypes.memmove(ctypes.byref(attr, 0), ctypes.byref(ctypes.c_uint32(BPF_PROG_TYPE_XDP)), 4)
    ctypes.memmove(ctypes.byref(attr, 4), ctypes.byref(ctypes.c_uint32(2)), 4)
    ctypes.memmove(ctypes.byref(attr, 8), ctypes.byref(ctypes.c_uint64(
        ctypes.addressof(insns))), 8)
    ctypes.memmove(ctypes.byref(attr, 16), ctypes.byref(ctypes.c_uint64(
        ctypes.addressof(license_))), 8)
    ctypes.memmove(ctypes.byref(attr, 48), b"bench_xdp_pass", 14)  # prog_name
    prog = libc.syscall(SYS_BPF, BPF_PROG_LOAD, attr, ctypes.sizeof(attr))
    if prog < 0:
        raise OSError(ctypes.get_errno(), "BPF_PROG_LOAD (XDP_PASS)")
    link_attr = (ctypes.c_uint32 * 16)(prog, socket.if_nametoindex(dev), BPF_XDP,
                                       XDP_FLAGS_DRV_MODE)
    link = libc.syscall(SYS_BPF, BPF_LINK_CREATE, link_attr, ctypes.sizeof(link_attr))
    err = ctypes.get_errno()
    os.close(prog)
    if link < 0:
        raise OSError(err, f"BPF_LINK_CREATE (XDP_PASS on {dev})")
    return link


def with_options(server, options):
    text = server.conf.read_text().replace(
        "[global]\n", "[global]\n" + "".join(f"  {k} = {v}\n" for k, v in options.items()), 1)
    server.conf.write_text(text)


def setns(path):
    """Moves this thread (and the children it starts) into the network namespace at path."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(path, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns")
    finally:
        os.close(fd)


def make_topology():
    sh("ip", "netns", "add", NS_SRV)
    sh("ip", "netns", "add", NS_CLI)
    for ns in (NS_SRV, NS_CLI):
        sh("ip", "-n", ns, "link", "set", "lo", "up")
    for srv_dev, cli_dev, srv_addr, cli_addr in LINKS.values():
        sh("ip", "link", "add", srv_dev, "netns", NS_SRV, "type", "veth", "peer", "name",
           cli_dev, "netns", NS_CLI)
        for ns, dev, addr in ((NS_SRV, srv_dev, srv_addr), (NS_CLI, cli_dev, cli_addr)):
            sh("ip", "-n", ns, "addr", "add", f"{addr}/24", "dev", dev)
            sh("ip", "-n", ns, "link", "set", dev, "up")


def remove_topology():
    for ns in (NS_SRV, NS_CLI):
        sh("ip", "netns", "del", ns, check=False)


def print_prog_stats():
    """Run count and average run time of every program that ran (bpf_stats_enabled)."""
    import json
    progs = json.loads(sh("bpftool", "prog", "show", "-j"))
    print(f"{'program':20s} {'id':>6s} {'runs':>10s} {'ns/run':>8s}")
    for p in progs:
        name = p.get("name", "")
        if (name.startswith("xsmb_") or name == "bench_xdp_pass") and p.get("run_cnt"):
            print(f"{name:20s} {p['id']:6d} {p['run_cnt']:10d} "
                  f"{p['run_time_ns'] / p['run_cnt']:8.1f}")


def main():
    if os.geteuid() != 0:
        sys.exit("bpf.py: run as root (BPF programs, XDP, network namespaces)")
    bench.ensure_user()
    root = Path(tempfile.mkdtemp(prefix="xsmb-bpf-bench-"))
    share = root / "share"
    bench.prepare_share(share)
    servers = {}
    host_ns = os.open("/proc/self/ns/net", os.O_RDONLY)
    pass_link = -1
    stats_path = Path("/proc/sys/kernel/bpf_stats_enabled")
    stats_before = stats_path.read_text().strip()
    try:
        if BPF_STATS:
            stats_path.write_text("1")
        if not LO:
            make_topology()
            setns(f"/var/run/netns/{NS_SRV}")  # servers (and the loader) run here
            run = bench.run
            # Clients run in the client namespace.
            bench.run = lambda cmd, *a, **kw: run(["ip", "netns", "exec", NS_CLI, *cmd], *a, **kw)
            if PASS_XDP:
                pass_link = attach_xdp_pass(LINKS["plain"][0])
        hosts = {"plain": "127.0.0.1", "bpf": "127.0.0.1", "sockmap": "127.0.0.1"}
        if not LO:
            hosts = {label: link[2] for label, link in LINKS.items()}
        for label in ("plain", "bpf", "sockmap"):
            (root / label).mkdir()
            bench.HOST = hosts[label]  # the Server's config and port probe use it
            servers[label] = bench.Server("xsmbd", root / label, share)
            servers[label].host = hosts[label]
        for label in ("bpf", "sockmap"):
            loader(label, "load", "--port", str(servers[label].port))
            # On lo (LO=1) the two programs share the device; libxdp chains them where the
            # kernel allows it, else the second attach fails and says why.
            loader(label, "attach", "lo" if LO else LINKS[label][0], "--mode",
                   "generic" if LO else "native")
        with_options(servers["bpf"], {"bpf": "yes", "bpf pin dir": PIN["bpf"]})
        with_options(servers["sockmap"], {"bpf": "yes", "bpf pin dir": PIN["sockmap"],
                                          "bpf sockmap": "yes"})
        for label, server in servers.items():
            bench.HOST = server.host
            server.start()

        def on(fn):
            def call(server):
                bench.HOST = server.host
                return fn(server)
            return call

        workloads = {
            "echo ops/s": on(lambda s: bench.smbtorture(s, "smb2.bench.echo", 8, 8, "echo")),
            "path-contention-shared ops/s": on(lambda s: bench.smbtorture(
                s, "smb2.bench.path-contention-shared", 4, 4, "open")),
            "seqread-1m MB/s": on(lambda s: bench.xsmb_bench(
                s, ["--workload", "seqread", "--block", "1m", "--qd", "8", "--path", "big.bin",
                    "--file_size", f"{bench.BIG_MB}m"])),
        }
        if WORKLOADS:
            workloads = {k: v for k, v in workloads.items()
                         if any(k.startswith(w) for w in WORKLOADS)}
        labels = list(servers)
        results = {name: {label: [] for label in labels} for name in workloads}
        for rnd in range(bench.ROUNDS):
            order = labels[rnd % len(labels):] + labels[:rnd % len(labels)]
            for name, fn in workloads.items():
                for label in order:
                    value = fn(servers[label])
                    results[name][label].append(value)
                    bench.log(f"round {rnd + 1}: {name:30s} {label:8s} {value:12.1f}")
        where = ("127.0.0.1, XDP generic on lo" if LO else
                 "one veth per server between two namespaces, XDP native on each server's "
                 "veth" + ("" if PASS_XDP else "; plain's veth without XDP"))
        print(f"\nxsmbd with / without BPF ({where}), {bench.ROUNDS} round(s) of "
              f"{bench.DURATION:.0f} s, commit {bench.commit()}")
        print(f"{'workload':32s} {'plain':>11s} {'bpf':>11s} {'sockmap':>11s} "
              f"{'bpf/plain':>9s} {'sockmap/plain':>13s}")
        for name, r in results.items():
            med = {label: statistics.median(v) for label, v in r.items()}
            p = med["plain"]
            ratio = {label: (med[label] / p if p else 0.0) for label in ("bpf", "sockmap")}
            print(f"{name:32s} {p:11.1f} {med['bpf']:11.1f} {med['sockmap']:11.1f} "
                  f"{ratio['bpf']:9.3f} {ratio['sockmap']:13.3f}")
        for label in ("bpf", "sockmap"):
            print(f"--- {label}: xsmb-loader status")
            print(loader(label, "status"))
        if BPF_STATS:
            print_prog_stats()
    finally:
        stats_path.write_text(stats_before)
        for server in servers.values():
            if server and server.proc:
                bench.stop(server.proc)
        for pin in PIN.values():
            subprocess.run([os.environ["XSMB_LOADER"], "--pin-dir", pin, "unload"],
                           capture_output=True)
        if pass_link >= 0:
            os.close(pass_link)
        libc = ctypes.CDLL(None, use_errno=True)
        libc.setns(host_ns, CLONE_NEWNET)
        os.close(host_ns)
        if not LO:
            remove_topology()


if __name__ == "__main__":
    main()
