"""xsmbd with and without its BPF data plane, in one run (issue 5's benchmark; not a test).

Three xsmbd instances serve the same share: `plain` (plain socket mode), `bpf` (`bpf = yes`:
XDP + TC egress on its link, reuseport program, session records, server latency) and
`sockmap` (the same plus `bpf sockmap = yes`: every connection under the sockhash verdict).

Topology (default): the servers run in a network namespace `srv`, the clients (smbtorture,
xsmb-bench) in a namespace `cli`, joined by two veth pairs that the script creates and removes:
`plain` is reached over 10.203.0.1 on a veth without XDP, `bpf` and `sockmap` over 10.204.0.1
on a veth with xsmb's XDP program attached in native mode (veth's driver XDP) and the TC
egress program. With LO=1 the old topology is used instead: everything on 127.0.0.1, XDP in
generic mode on `lo` (loopback has no native XDP).

Workloads run in alternation, several rounds: smbtorture smb2.bench.echo (nprocs 8, qdepth 8),
smb2.bench.path-contention-shared (nprocs 4, qdepth 4) and a 1 MiB sequential read with
xsmb-bench. Prints medians and the ratio to plain for each (the issue's bound: BPF mode no
more than 3% slower). Run as root: `sudo QUICK=1 python3 tools/bench/bpf.py` after building
(XSMBD, XSMBCTL, XSMB_BENCH and XSMB_LOADER name the binaries; defaults under BUILD_DIR or
build/). Nothing leaves the namespaces (or 127.0.0.1).
"""

import ctypes
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
LO = os.environ.get("LO") == "1"
TAG = f"xsb{os.getpid() % 100000}"
NS_SRV, NS_CLI = f"{TAG}s", f"{TAG}c"
# (server-side veth, client-side veth, server address, client address) per link
LINKS = {"plain": (f"{TAG}p", f"{TAG}q", "10.203.0.1", "10.203.0.2"),
         "xdp": (f"{TAG}x", f"{TAG}y", "10.204.0.1", "10.204.0.2")}
CLONE_NEWNET = 0x40000000


def sh(*cmd, check=True):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {r.stdout}{r.stderr}")
    return r.stdout


def loader(*args):
    return sh(os.environ["XSMB_LOADER"], "--pin-dir", PIN, *args)


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


def main():
    if os.geteuid() != 0:
        sys.exit("bpf.py: run as root (BPF programs, XDP, network namespaces)")
    bench.ensure_user()
    root = Path(tempfile.mkdtemp(prefix="xsmb-bpf-bench-"))
    share = root / "share"
    bench.prepare_share(share)
    servers = {}
    host_ns = os.open("/proc/self/ns/net", os.O_RDONLY)
    xdp_dev = "lo"
    try:
        if not LO:
            make_topology()
            setns(f"/var/run/netns/{NS_SRV}")  # servers (and the loader) run here
            run = bench.run
            # Clients run in the client namespace.
            bench.run = lambda cmd, *a, **kw: run(["ip", "netns", "exec", NS_CLI, *cmd], *a, **kw)
            xdp_dev = LINKS["xdp"][0]
        hosts = {"plain": "127.0.0.1", "bpf": "127.0.0.1", "sockmap": "127.0.0.1"}
        if not LO:
            hosts = {"plain": LINKS["plain"][2], "bpf": LINKS["xdp"][2],
                     "sockmap": LINKS["xdp"][2]}
        for label in ("plain", "bpf", "sockmap"):
            (root / label).mkdir()
            bench.HOST = hosts[label]  # the Server's config and port probe use it
            servers[label] = bench.Server("xsmbd", root / label, share)
            servers[label].host = hosts[label]
        loader("load", "--port", str(servers["bpf"].port), "--port",
               str(servers["sockmap"].port))
        loader("attach", xdp_dev, "--mode", "generic" if LO else "native")
        with_options(servers["bpf"], {"bpf": "yes", "bpf pin dir": PIN})
        with_options(servers["sockmap"], {"bpf": "yes", "bpf pin dir": PIN,
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
                 "veth between two namespaces, XDP native on the server's veth")
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
        print(loader("status"))
    finally:
        for server in servers.values():
            if server and server.proc:
                bench.stop(server.proc)
        subprocess.run([os.environ["XSMB_LOADER"], "--pin-dir", PIN, "unload"],
                       capture_output=True)
        libc = ctypes.CDLL(None, use_errno=True)
        libc.setns(host_ns, CLONE_NEWNET)
        os.close(host_ns)
        if not LO:
            remove_topology()


if __name__ == "__main__":
    main()
