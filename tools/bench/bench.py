#!/usr/bin/env python3
"""xsmbd / Samba side-by-side benchmark (started by tools/bench/run.sh; see docs/performance.md).

Both servers run as root on free 127.0.0.1 ports, started the same way (foreground, own
process group), exporting the same directory as [bench] to the same user. Every workload runs
ROUNDS times, alternating which server goes first; medians and ratios xsmbd/Samba are printed
and written as JSON. Beside each throughput goes the server's CPU time per request (per MB for
the smbclient transfers), user and system apart, over every process of the server (smbd's
per-connection children included; procstat.py). Nothing is sent anywhere but 127.0.0.1.
"""

import argparse
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from procstat import cpu_per_unit, session_pids, tree_cpu  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
QUICK = os.environ.get("QUICK") == "1"
ROUNDS = int(os.environ.get("ROUNDS", "1" if QUICK else "3"))
DURATION = float(os.environ.get("DURATION", "3" if QUICK else "10"))
BIG_MB = int(os.environ.get("BIG_FILE_MB", "256" if QUICK else "1024"))
IDLE = int(os.environ.get("IDLE_SESSIONS", "1000" if QUICK else "5000"))
# smbd forks a process per connection; thousands of them would only measure fork.
IDLE_SAMBA = int(os.environ.get("IDLE_SESSIONS_SAMBA", "200" if QUICK else "1000"))
LIST_FILES = 10000
ONLY = set(filter(None, os.environ.get("ONLY", "").split(",")))
SHARE_OPTIONS = os.environ.get("SHARE_OPTIONS", "")
# XSMBD_GLOBAL="busy poll = 0; ...": lines added to xsmbd's [global] only (smbd has no such
# parameters; "busy poll = 0" makes xsmbd's loops sleep as smbd's processes do).
XSMBD_GLOBAL = os.environ.get("XSMBD_GLOBAL", "")
# SERVER_CPUS="0": both servers start under `taskset -c 0` (every process and thread they make
# inherits it), so that on a machine shared with the clients the servers keep off the clients'
# CPUs alike. xsmbd's default "worker cpus" is its affinity mask: one event loop per CPU given.
SERVER_CPUS = os.environ.get("SERVER_CPUS", "")
# TCP congestion control for the whole run (both servers, both clients, iperf3): the system
# default is switched for the run and restored after. Empty: the machine's own setting.
TCP_CC = os.environ.get("TCP_CC", "")
CC_SYSCTL = Path("/proc/sys/net/ipv4/tcp_congestion_control")
WRITES = {"put-1g", "seqwrite-1m"}  # preceded by a sync
# smbclient get/put move the big file once in well under a second; one transfer per round
# swung 2x with page-cache and writeback state, so each round reports the median of these.
TRANSFERS = int(os.environ.get("TRANSFERS", "3"))
USER, PASSWORD = "xsmbbench", "Bench-pw-1"
HOST = "127.0.0.1"

# name: (unit, target ratio or None, description, what the server's CPU time is given per)
BENCHES = {
    "echo": ("ops/s", 2.0, "smbtorture smb2.bench.echo nprocs 8 qdepth 8", "request"),
    "echo-xsmb-bench": ("ops/s", None, "xsmb-bench echo, 8 connections x qd 8, 2 threads",
                        "request"),
    "path-contention-shared": ("ops/s", 3.0,
                               "smbtorture smb2.bench.path-contention-shared nprocs 4 qdepth 4",
                               "request"),
    "open-close-xsmb-bench": ("ops/s", None,
                              "xsmb-bench open+close of the share root for attributes (what "
                              "path-contention-shared sends), 4 connections x qd 4, 2 threads",
                              "request"),
    "get-1g": ("MB/s", None, f"smbclient get of a large file, median of {TRANSFERS} per round",
               "MB"),
    "put-1g": ("MB/s", None, f"smbclient put of a large file, median of {TRANSFERS} per round",
               "MB"),
    "randread-4k": ("ops/s", 2.0, "xsmb-bench 4 KiB random read, qd 32, 1 connection", "request"),
    "seqread-1m": ("MB/s", 2.4, "xsmb-bench 1 MiB sequential read, qd 8, 1 connection",
                   "request"),
    "seqwrite-1m": ("MB/s", 1.3, "xsmb-bench 1 MiB sequential write, qd 8, 1 connection",
                    "request"),
    "create-close": ("ops/s", None, "xsmb-bench create+close, 4 connections x qd 4", "request"),
    "list-10k": ("entries/s", None, "xsmb-bench listing of a 10,000-file directory, qd 1",
                 "request"),
}
# smbtorture counters: SMB2 requests per counted op (each open of path-contention is followed by
# a close, which smbtorture counts apart).
SMBTORTURE_REQUESTS_PER_OP = {"echo": 1, "open": 2}

procs = []


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def wait_port(port, proc, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with socket.create_connection((HOST, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def stop(proc):
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=5)


def memory_kib(sid):
    """(sum of RSS, sum of PSS) in KiB over the server's processes."""
    rss = pss = 0
    for pid in session_pids(sid):
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Rss:"):
                    rss += int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1])
        except OSError:
            pass
    return rss, pss


class Server:
    def __init__(self, kind, root, share):
        self.kind, self.root, self.share = kind, root / kind, share
        self.root.mkdir()
        self.port = free_port()
        self.proc = None
        self.peak_rss = 0
        self.conf = self.root / "smb.conf"
        g = {
            "smb ports": self.port, "interfaces": HOST, "bind interfaces only": "yes",
            "netbios name": "BENCH" + kind.upper()[:6], "workgroup": "WORKGROUP",
        }
        if kind == "xsmbd":
            g["smb passwd file"] = self.root / "users.db"
        else:
            for sub in ("private", "lock", "state", "cache", "pid", "ncalrpc"):
                (self.root / sub).mkdir()
            g.update({
                "server role": "standalone server", "security": "user",
                "passdb backend": f"tdbsam:{self.root / 'private' / 'passdb.tdb'}",
                "private dir": self.root / "private", "lock directory": self.root / "lock",
                "state directory": self.root / "state", "cache directory": self.root / "cache",
                "pid directory": self.root / "pid", "ncalrpc dir": self.root / "ncalrpc",
                "disable netbios": "yes", "load printers": "no", "printing": "bsd",
                "printcap name": "/dev/null", "disable spoolss": "yes",
                "log file": self.root / "log", "max log size": "0", "log level": "0",
                "rpc_server:default": "embedded",
                "max open files": "65536",
            })
        lines = ["[global]"] + [f"  {k} = {v}" for k, v in g.items()]
        if kind == "xsmbd":
            lines += [f"  {o.strip()}" for o in XSMBD_GLOBAL.split(";") if o.strip()]
        lines += ["", "[bench]", f"  path = {share}", "  read only = no"]
        # SHARE_OPTIONS="use sendfile = yes; ..." goes into both servers' [bench] alike.
        lines += [f"  {o.strip()}" for o in SHARE_OPTIONS.split(";") if o.strip()]
        self.conf.write_text("\n".join(lines) + "\n")

    def start(self):
        if self.kind == "xsmbd":
            subprocess.run([os.environ["XSMBCTL"], "--db", str(self.root / "users.db"), "user",
                            "add", USER, "--unix-user", USER], input=PASSWORD + "\n", text=True,
                           check=True, capture_output=True)
            cmd = [os.environ["XSMBD"], "--config", str(self.conf), "--foreground",
                   "--log-level", "1"]
        else:
            subprocess.run(["pdbedit", "-s", str(self.conf), "-a", "-u", USER, "-t"],
                           input=f"{PASSWORD}\n{PASSWORD}\n", text=True, check=True,
                           capture_output=True)
            cmd = [shutil.which("smbd") or "/usr/sbin/smbd", "-F", "--no-process-group",
                   "-s", str(self.conf), "--debug-stdout", "-d", "0"]
        if SERVER_CPUS:
            cmd = ["taskset", "-c", SERVER_CPUS] + cmd
        out = open(self.root / "server.log", "ab")
        self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        procs.append(self.proc)
        wait_port(self.port, self.proc)
        time.sleep(0.5)
        log(f"{self.kind}: pid {self.proc.pid} on {HOST}:{self.port}")

    def memory(self):
        return memory_kib(self.proc.pid)

    def alive(self):
        return self.proc.poll() is None


def run(cmd, timeout=600, on_line=None, **kw):
    """(exit code, stdout + stderr) of `cmd`. With on_line, each line of its output is passed to
    on_line as it arrives (bpf.py wraps this function to run clients in another namespace)."""
    if on_line is None:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
        return r.returncode, r.stdout + r.stderr
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         stdin=subprocess.DEVNULL, start_new_session=True, **kw)
    procs.append(p)
    killer = threading.Timer(timeout, lambda: stop(p))
    killer.start()
    out = []
    try:
        for line in p.stdout:
            on_line(line)
            out.append(line)
        return p.wait(), "".join(out)
    finally:
        killer.cancel()
        stop(p)


def server_cpu(server):
    """The CPU of the server's whole process tree now (procstat.tree_cpu)."""
    return tree_cpu([server.proc.pid])


def smbtorture_measured(server, test, nprocs, qdepth, counter):
    """(ops/s, server CPU per SMB2 request) of an smbtorture smb2.bench.* run.

    smbtorture prints one rate line per second (the first covers the ramp-up, the last comes as
    the loops stop); the server's CPU is read as the first and the last arrive, and set against
    the mean rate after the first second, as the throughput is."""
    samples = []

    def on_line(line):
        if counter + "[num/s=" in line:
            samples.append(server_cpu(server))

    rc, out = run(["smbtorture", f"//{HOST}/bench", "-p", str(server.port),
                   "-U", f"{USER}%{PASSWORD}", f"--option=torture:nprocs={nprocs}",
                   f"--option=torture:qdepth={qdepth}",
                   f"--option=torture:timelimit={int(DURATION) + 1}", test],
                  timeout=DURATION + 120, on_line=on_line)
    rates = [float(x) for x in re.findall(re.escape(counter) + r"\[num/s=(\d+)", out)]
    if rc != 0 or "success:" not in out or len(rates) < 2:
        raise RuntimeError(f"{test} failed ({rc}): {out[-800:]}")
    rate = statistics.mean(rates[1:])  # the first second is ramp-up
    cpu = None
    if len(samples) >= 2:
        cpu = cpu_per_unit(samples[0], samples[-1], rate * SMBTORTURE_REQUESTS_PER_OP[counter])
    return rate, cpu


def smbtorture(server, test, nprocs, qdepth, counter):
    """ops/s of an smbtorture smb2.bench.* run (the mean rate after the first second)."""
    return smbtorture_measured(server, test, nprocs, qdepth, counter)[0]


def smbclient(server, command, client_conf):
    t0 = time.monotonic()
    rc, out = run(["smbclient", f"//{HOST}/bench", "-p", str(server.port), "-s", str(client_conf),
                   "-U", f"{USER}%{PASSWORD}", "--use-kerberos=off", "-c", command],
                  timeout=900)
    if rc != 0 or "NT_STATUS" in out:
        raise RuntimeError(f"smbclient {command} failed ({rc}): {out[-800:]}")
    return time.monotonic() - t0


def transfer(server, command, client_conf, nbytes, write):
    """(MB/s, server CPU per MB) of an smbclient transfer of `nbytes`: the medians of TRANSFERS
    back to back (a write transfer starts each from a clean page cache, as WRITES do). The
    CPU is read before and after each smbclient run, its logon included."""
    rates, cpus = [], []
    for _ in range(TRANSFERS):
        if write:
            os.sync()
        before = server_cpu(server)
        rates.append(nbytes / 1e6 / smbclient(server, command, client_conf))
        cpus.append(cpu_per_unit(before, server_cpu(server), rates[-1]))
    log(f"  {server.kind} {command.split()[0]}: " + " ".join(f"{r:.0f}" for r in rates) + " MB/s")
    return statistics.median(rates), median_cpu(cpus)


def median_cpu(cpus):
    """The median of each field of CPU readings (cpu_per_unit dicts), or None."""
    cpus = [c for c in cpus if c]
    if not cpus:
        return None
    return {k: statistics.median(c[k] for c in cpus) for k in cpus[0]}


def xsmb_bench_measured(server, args, key="mb_per_sec"):
    """(res[key], server CPU per SMB2 request) of one xsmb-bench workload; xsmb-bench itself
    reads the server's CPU (--server_pid) as its measured interval opens and closes."""
    cmd = [os.environ["XSMB_BENCH"], "--host", HOST, "--port", str(server.port), "--user", USER,
           "--password", PASSWORD, "--share", "bench", "--json", "--progress=false",
           "--duration", str(DURATION), "--warmup", "1",
           "--server_pid", str(server.proc.pid)] + args
    rc, out = run(cmd, timeout=DURATION + 300)
    start = out.find("[")
    if rc != 0 or start < 0:
        raise RuntimeError(f"xsmb-bench {' '.join(args)} failed ({rc}): {out[-800:]}")
    res = json.loads(out[start:out.rfind("]") + 1])[0]
    if res["errors"]:
        log(f"  xsmb-bench reported {res['errors']} errors")
    cpu = None
    if res.get("server_cpu_us_per_req") is not None:
        cpu = {"user_us": res["server_cpu_user_us_per_req"],
               "sys_us": res["server_cpu_sys_us_per_req"],
               "total_us": res["server_cpu_us_per_req"], "cores": res["server_cpus"],
               "wall_s": res["server_cpu_wall_s"], "processes": res["server_processes"]}
    return res[key], cpu


def xsmb_bench(server, args, key="mb_per_sec"):
    """res[key] of one xsmb-bench workload."""
    return xsmb_bench_measured(server, args, key)[0]


def iperf3():
    port = free_port()
    srv = subprocess.Popen(["iperf3", "-s", "-1", "-B", HOST, "-p", str(port)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           start_new_session=True)
    procs.append(srv)
    time.sleep(0.5)
    rc, out = run(["iperf3", "-c", HOST, "-p", str(port), "-t", str(int(DURATION)), "-J"],
                  timeout=DURATION + 60)
    stop(srv)
    if rc != 0:
        raise RuntimeError(f"iperf3 failed: {out[-500:]}")
    return json.loads(out)["end"]["sum_received"]["bits_per_second"] / 8e6  # MB/s


def idle_sessions(server, n):
    """Server memory per idle session: N xsmb-bench sessions held open, RSS/PSS before/after."""
    time.sleep(1)
    rss0, pss0 = server.memory()
    cmd = [os.environ["XSMB_BENCH"], "--host", HOST, "--port", str(server.port), "--user", USER,
           "--password", PASSWORD, "--share", "bench", "--workload", "sessions", "--sessions",
           str(n), "--threads", "2", "--hold", "0", "--progress=false", "--hard_timeout_ms", "0"]
    errlog = server.root / "sessions.log"
    with open(errlog, "w") as err:
        bench = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True,
                                 start_new_session=True)
    procs.append(bench)
    deadline = time.time() + 600
    while "sessions ready" not in errlog.read_text():
        if bench.poll() is not None or time.time() > deadline:
            stop(bench)
            raise RuntimeError(f"sessions did not come up: {errlog.read_text()[-500:]}")
        time.sleep(0.2)
    m = re.search(r"(\d+) sessions ready", errlog.read_text())
    ready = int(m.group(1))
    time.sleep(3)
    rss1, pss1 = server.memory()
    stop(bench)
    return {"sessions": ready, "rss_before_kib": rss0, "rss_after_kib": rss1,
            "pss_before_kib": pss0, "pss_after_kib": pss1,
            "rss_per_session_kib": (rss1 - rss0) / max(ready, 1),
            "pss_per_session_kib": (pss1 - pss0) / max(ready, 1)}


def sampler(servers, stop_event):
    while not stop_event.wait(0.25):
        for s in servers:
            if s.alive():
                s.peak_rss = max(s.peak_rss, s.memory()[0])


def prepare_share(share):
    share.mkdir(mode=0o777)
    os.chmod(share, 0o777)
    big = share / "big.bin"
    log(f"share: writing {BIG_MB} MiB big.bin and write.bin and {LIST_FILES} files in list/")
    # write.bin exists before the first seqwrite-1m, so every measurement overwrites a file of
    # BIG_MB: otherwise the server that runs first in round 1 (always xsmbd) also created it,
    # and that round cost it 1.2-2.1x its others (Session 7 in docs/performance.md).
    for path in (big, share / "write.bin"):
        with open(path, "wb") as f:
            chunk = os.urandom(1 << 20)
            for i in range(BIG_MB):
                f.write(chunk[i % 251:] + chunk[:i % 251])
    (share / "list").mkdir()
    for i in range(LIST_FILES):
        (share / "list" / f"file-{i:05d}.txt").touch()
    (share / "cc").mkdir()
    subprocess.run(["chown", "-R", USER, str(share)], check=True)
    subprocess.run(["chmod", "-R", "a+rwX", str(share)], check=True)
    return big


def ensure_user():
    try:
        pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(["useradd", "-M", "-N", "-s", "/usr/sbin/nologin", USER], check=True)


def tcp_settings():
    """The loopback TCP set-up every number depends on: congestion control and qdisc."""
    try:
        qdisc = subprocess.run(["tc", "qdisc", "show", "dev", "lo"], capture_output=True,
                               text=True).stdout.splitlines()
    except OSError:  # no iproute2
        qdisc = []
    return {"congestion_control": CC_SYSCTL.read_text().strip(),
            "default_qdisc": Path("/proc/sys/net/core/default_qdisc").read_text().strip(),
            "lo_qdisc": qdisc[0].split()[1] if qdisc else "unknown"}


def switch_cc(name):
    """Makes `name` the system's TCP congestion control; returns the one it replaces."""
    available = Path("/proc/sys/net/ipv4/tcp_available_congestion_control").read_text().split()
    if name not in available:
        try:
            subprocess.run(["modprobe", f"tcp_{name}"], capture_output=True)
        except OSError:  # no kmod: only what is loaded can be chosen
            pass
        available = Path("/proc/sys/net/ipv4/tcp_available_congestion_control").read_text()
        if name not in available.split():
            sys.exit(f"bench.py: TCP_CC={name}: not available (have: {available.strip()})")
    old = CC_SYSCTL.read_text().strip()
    CC_SYSCTL.write_text(name + "\n")
    log(f"TCP congestion control {old} -> {name} for this run")
    return old


def commit():
    if os.environ.get("BENCH_COMMIT"):
        return os.environ["BENCH_COMMIT"]
    try:
        rev = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short=12", "HEAD"],
                             capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--",
                                "server", "tools"], capture_output=True, text=True).stdout.strip()
        return rev + ("-dirty" if dirty else "")
    except OSError:
        return "unknown"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench.py: run as root (smbd, and xsmbd's per-user file access)")
    ensure_user()
    # A SIGTERM unwinds like ^C, so the servers stop and the machine's TCP setting comes back.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    old_cc = switch_cc(TCP_CC) if TCP_CC else None
    try:
        run_all(args)
    finally:
        if old_cc:
            CC_SYSCTL.write_text(old_cc + "\n")
            log(f"TCP congestion control back to {old_cc}")


def jobs(client_conf, local_src):
    """Each benchmark as a function of the server: (throughput, server CPU per unit or None)."""
    big_bytes = BIG_MB << 20
    return {
        "echo": lambda s: smbtorture_measured(s, "smb2.bench.echo", 8, 8, "echo"),
        "echo-xsmb-bench": lambda s: xsmb_bench_measured(
            s, ["--workload", "echo", "--connections", "8", "--qd", "8", "--threads", "2"],
            "ops_per_sec"),
        "path-contention-shared": lambda s: smbtorture_measured(
            s, "smb2.bench.path-contention-shared", 4, 4, "open"),
        "open-close-xsmb-bench": lambda s: xsmb_bench_measured(
            s, ["--workload", "open", "--connections", "4", "--qd", "4", "--threads", "2"],
            "ops_per_sec"),
        "get-1g": lambda s: transfer(s, "get big.bin /dev/null", client_conf, big_bytes, False),
        "put-1g": lambda s: transfer(s, f"put {local_src} put.bin", client_conf, big_bytes, True),
        "randread-4k": lambda s: xsmb_bench_measured(
            s, ["--workload", "randread", "--block", "4k", "--qd", "32", "--path", "big.bin",
                "--file_size", f"{BIG_MB}m"], "ops_per_sec"),
        "seqread-1m": lambda s: xsmb_bench_measured(
            s, ["--workload", "seqread", "--block", "1m", "--qd", "8", "--path", "big.bin",
                "--file_size", f"{BIG_MB}m"]),
        "seqwrite-1m": lambda s: xsmb_bench_measured(
            s, ["--workload", "seqwrite", "--block", "1m", "--qd", "8", "--path", "write.bin",
                "--file_size", f"{BIG_MB}m"]),
        "create-close": lambda s: xsmb_bench_measured(
            s, ["--workload", "create", "--connections", "4", "--qd", "4", "--threads", "2",
                "--path", "cc\\f"], "ops_per_sec"),
        "list-10k": lambda s: xsmb_bench_measured(s, ["--workload", "list", "--path", "list"],
                                                  "entries_per_sec"),
    }


def run_rounds(servers, jobs, results, cpu, ceiling):
    """ROUNDS rounds of every benchmark (ONLY: a selection) on both servers, who goes first
    alternating; appends to results[name][kind], cpu[name][kind] and ceiling (iperf3)."""
    for rnd in range(ROUNDS):
        if not ONLY or "iperf3" in ONLY:
            ceiling.append(iperf3())
            log(f"round {rnd + 1}/{ROUNDS}: iperf3 loopback {ceiling[-1]:.0f} MB/s")
        order = servers if rnd % 2 == 0 else servers[::-1]
        for name, job in jobs.items():
            if ONLY and name not in ONLY:
                continue
            for s in order:
                if name in WRITES:
                    # Each server starts from a clean page cache: no writeback of the
                    # previous server's (or the setup's) gigabyte lands on its measurement.
                    os.sync()
                try:
                    v, c = job(s)
                except Exception as e:  # noqa: BLE001 - one failure must not end the run
                    log(f"round {rnd + 1}: {name} on {s.kind}: FAILED: {e}")
                    continue
                results[name][s.kind].append(v)
                cpu[name][s.kind].append(c)
                per = BENCHES[name][3]
                usage = (f"  server CPU/{per}: user {c['user_us']:.2f} + sys {c['sys_us']:.2f} "
                         f"= {c['total_us']:.2f} us ({c['cores']:.2f} CPUs)" if c else "")
                log(f"round {rnd + 1}/{ROUNDS}: {name:24s} {s.kind:6s} {v:12.1f} "
                    f"{BENCHES[name][0]}{usage}")


def run_all(args):
    root = Path(tempfile.mkdtemp(prefix="xsmb-bench-"))
    os.chmod(root, 0o755)
    share = root / "share"
    big = prepare_share(share)
    local_src = root / "put-src.bin"
    shutil.copyfile(big, local_src)
    client_conf = root / "client.conf"
    client_conf.write_text("[global]\n  client min protocol = SMB2_02\n  workgroup = WORKGROUP\n")
    servers = [Server("xsmbd", root, share), Server("samba", root, share)]
    results = {name: {"xsmbd": [], "samba": []} for name in BENCHES}
    cpu = {name: {"xsmbd": [], "samba": []} for name in BENCHES}  # server CPU per unit
    ceiling = []
    idle = {}
    stop_event = threading.Event()
    try:
        for s in servers:
            s.start()
        threading.Thread(target=sampler, args=(servers, stop_event), daemon=True).start()
        run_rounds(servers, jobs(client_conf, local_src), results, cpu, ceiling)
        if not ONLY or "idle" in ONLY:
            for s, n in ((servers[0], IDLE), (servers[1], IDLE_SAMBA)):
                try:
                    idle[s.kind] = idle_sessions(s, n)
                    log(f"idle: {s.kind} {idle[s.kind]}")
                except Exception as e:  # noqa: BLE001
                    log(f"idle sessions on {s.kind}: FAILED: {e}")
    finally:
        stop_event.set()
        for p in procs:
            stop(p)
    report(results, cpu, ceiling, idle, servers, args.out)
    if not os.environ.get("KEEP"):
        shutil.rmtree(root, ignore_errors=True)


def med(v):
    return statistics.median(v) if v else None


def report_cpu(cpu, doc):
    """The server CPU table: per benchmark and server the medians over rounds of user, system
    and total microseconds per unit (request or MB), and xsmbd / Samba of each."""
    print("\nserver CPU per request (per MB for get/put), microseconds, median over rounds: "
          "user + system = total over every process of the server, children included; CPUs = "
          "CPUs busy in the server")
    print(f"{'benchmark':24s} {'per':8s} {'xsmbd usr':>9s} {'sys':>7s} {'total':>7s} "
          f"{'CPUs':>5s}  {'Samba usr':>9s} {'sys':>7s} {'total':>7s} {'CPUs':>5s}  "
          f"{'xsmbd/Samba usr':>15s} {'sys':>5s} {'total':>5s}")
    for name, (_, _, _, per) in BENCHES.items():
        runs = {k: [c for c in cpu[name][k] if c] for k in ("xsmbd", "samba")}
        if not runs["xsmbd"] and not runs["samba"]:
            continue
        m = {k: median_cpu(v) for k, v in runs.items()}
        ratio = {}
        if m["xsmbd"] and m["samba"]:
            ratio = {f: (m["xsmbd"][f + "_us"] / m["samba"][f + "_us"]
                         if m["samba"][f + "_us"] else None) for f in ("user", "sys", "total")}
        doc["benchmarks"][name]["server_cpu"] = {
            "per": per, "xsmbd": cpu[name]["xsmbd"], "samba": cpu[name]["samba"],
            "median_xsmbd": m["xsmbd"], "median_samba": m["samba"],
            "ratio_xsmbd_over_samba": ratio or None}
        cols = ""
        for k in ("xsmbd", "samba"):
            c = m[k]
            cols += (f"{c['user_us']:9.2f} {c['sys_us']:7.2f} {c['total_us']:7.2f} "
                     f"{c['cores']:5.2f}  " if c else f"{'-':>9s} {'-':>7s} {'-':>7s} {'-':>5s}  ")
        r = lambda f: f"{ratio[f]:.2f}" if ratio.get(f) else "-"  # noqa: E731
        print(f"{name:24s} {per:8s} {cols}{r('user'):>15s} {r('sys'):>5s} {r('total'):>5s}")


def report(results, cpu, ceiling, idle, servers, out_path):
    ceiling_mb = med(ceiling)
    doc = {"commit": commit(), "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
           "quick": QUICK, "rounds": ROUNDS, "duration_s": DURATION, "big_file_mib": BIG_MB,
           "transfers_per_round": TRANSFERS, "share_options": SHARE_OPTIONS,
           "xsmbd_global": XSMBD_GLOBAL, "server_cpus": SERVER_CPUS,
           "cpus": os.cpu_count(), "kernel": os.uname().release, "tcp": tcp_settings(),
           "iperf3_mb_per_sec": ceiling, "benchmarks": {}, "memory": {}}
    print(f"\nxsmbd vs Samba, commit {doc['commit']}, {ROUNDS} round(s) of {DURATION:g} s, "
          f"{os.cpu_count()} CPUs")
    tcp = doc["tcp"]
    print(f"loopback TCP: congestion control {tcp['congestion_control']}, lo qdisc "
          f"{tcp['lo_qdisc']} (default {tcp['default_qdisc']})")
    if XSMBD_GLOBAL:
        print(f"xsmbd [global] additions: {XSMBD_GLOBAL}")
    if SERVER_CPUS:
        print(f"both servers confined to CPUs {SERVER_CPUS} (taskset)")
    if ceiling_mb:
        print(f"raw loopback TCP (iperf3, 1 stream): {ceiling_mb:.0f} MB/s")
    print(f"{'benchmark':24s} {'unit':9s} {'xsmbd':>11s} {'Samba':>11s} {'ratio':>7s} "
          f"{'target':>7s}  met")
    for name, (unit, target, desc, _) in BENCHES.items():
        x, s = med(results[name]["xsmbd"]), med(results[name]["samba"])
        ratio = x / s if x and s else None
        met = None
        if target and ratio is not None:
            met = ratio >= target
            if name == "seqread-1m" and ceiling_mb:
                met = met and x >= 0.8 * ceiling_mb
        doc["benchmarks"][name] = {"unit": unit, "description": desc,
                                   "xsmbd": results[name]["xsmbd"],
                                   "samba": results[name]["samba"], "median_xsmbd": x,
                                   "median_samba": s, "ratio": ratio, "target_ratio": target,
                                   "met": met}
        fmt = lambda v: f"{v:11.1f}" if v is not None else f"{'-':>11s}"  # noqa: E731
        print(f"{name:24s} {unit:9s} {fmt(x)} {fmt(s)} "
              f"{(f'{ratio:7.2f}' if ratio else '      -')} "
              f"{(f'{target:6.1f}x' if target else '      -')}  "
              f"{'-' if met is None else ('yes' if met else 'NO')}")
    if ceiling_mb and med(results["seqread-1m"]["xsmbd"]):
        frac = med(results["seqread-1m"]["xsmbd"]) / ceiling_mb
        doc["seqread_fraction_of_tcp"] = frac
        print(f"seqread-1m xsmbd / raw TCP: {frac:.0%} (target 80%)")
    report_cpu(cpu, doc)
    for s in servers:
        doc["memory"][s.kind] = {"peak_rss_kib": s.peak_rss, **idle.get(s.kind, {})}
        i = idle.get(s.kind)
        line = f"{s.kind:6s} peak RSS {s.peak_rss / 1024:8.1f} MiB"
        if i:
            line += (f"; idle {i['sessions']} sessions: RSS {i['rss_before_kib'] / 1024:.1f} -> "
                     f"{i['rss_after_kib'] / 1024:.1f} MiB = {i['rss_per_session_kib']:.1f} KiB"
                     f"/session (PSS {i['pss_per_session_kib']:.1f} KiB/session)")
        print(line)
    if "xsmbd" in idle:
        per = idle["xsmbd"]["rss_per_session_kib"]
        doc["memory"]["xsmbd"]["idle_target_met"] = per < 8
        print(f"idle target (< 8 KiB RSS per session on xsmbd): {'yes' if per < 8 else 'NO'}")
    Path(out_path).parent.mkdir(parents=True, exist_ok=True)
    Path(out_path).write_text(json.dumps(doc, indent=2) + "\n")
    print(f"JSON: {out_path}")
    # Plots beside the JSON (out.png, out.svg); without matplotlib plot.py says so.
    subprocess.run([str(Path(__file__).with_name("plot.py")), str(out_path)])


if __name__ == "__main__":
    main()
