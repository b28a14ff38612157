"""A server's processes and CPU time from /proc, for the benchmarks (bench.py, cpu_ab.py).

A server is a root process and every live process below it (xsmbd and its xsmb-rpcd; smbd and
the child it forks per connection). /proc/PID/stat counts all threads of a process, exited ones
included, and in cutime/cstime the children it has waited for: a child's time moves from its
own line to its parent's when it exits, so summing the tree counts it once either way. The
parsing matches xsmb-bench's (tools/xsmb-bench/server_cpu.cc), which reads the same fields.
"""

import os
import time
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")


def parse_stat(text):
    """The fields of a /proc/PID/stat line that the benchmarks use (times in clock ticks).

    comm is what lies between the first '(' and the last ')': a process may call itself
    "a) b (c". None when the line is cut short."""
    open_, close = text.find("("), text.rfind(")")
    if open_ < 0 or close < open_:
        return None
    f = text[close + 1:].split()  # f[0] is proc(5)'s field 3, state
    if len(f) < 15:
        return None
    try:
        return {"pid": int(text[:open_]), "comm": text[open_ + 1:close], "state": f[0],
                "ppid": int(f[1]), "session": int(f[3]), "utime": int(f[11]),
                "stime": int(f[12]), "cutime": int(f[13]), "cstime": int(f[14])}
    except ValueError:
        return None


def read_stat(pid):
    """parse_stat of /proc/<pid>/stat, or None once the process is gone."""
    try:
        return parse_stat(Path(f"/proc/{pid}/stat").read_text())
    except OSError:
        return None


def all_stats():
    """parse_stat of every process, by pid."""
    out = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            st = read_stat(d)
            if st:
                out[st["pid"]] = st
    return out


def session_pids(sid):
    """Pids whose session id is `sid` (a server started in a session of its own and everything
    it forked)."""
    return [pid for pid, st in all_stats().items() if st["session"] == sid]


def tree_cpu(roots):
    """CPU of `roots` and of every live process below them (found through each /proc/*/stat's
    ppid): {"user": s, "system": s, "processes": n, "t": monotonic s}."""
    t = time.monotonic()
    stats = all_stats()
    children = {}
    for st in stats.values():
        children.setdefault(st["ppid"], []).append(st["pid"])
    user = system = n = 0
    seen, todo = set(), list(roots)
    while todo:
        pid = todo.pop()
        st = stats.get(pid)
        if st is None or pid in seen:
            continue
        seen.add(pid)
        user += st["utime"] + st["cutime"]
        system += st["stime"] + st["cstime"]
        n += 1
        todo.extend(children.get(pid, []))
    return {"user": user / CLK_TCK, "system": system / CLK_TCK, "processes": n, "t": t}


def cpu_per_unit(before, after, units_per_sec):
    """Server CPU per unit (request, op, MB) between two tree_cpu readings, in microseconds,
    user and system apart: the CPUs busy between the readings over the units per second
    measured across about the same interval. Also the CPUs busy ("cores")."""
    wall = after["t"] - before["t"]
    if wall <= 0 or not units_per_sec:
        return None
    user = (after["user"] - before["user"]) / wall
    system = (after["system"] - before["system"]) / wall
    return {"user_us": user / units_per_sec * 1e6, "sys_us": system / units_per_sec * 1e6,
            "total_us": (user + system) / units_per_sec * 1e6, "cores": user + system,
            "wall_s": wall, "processes": after["processes"]}


def cpu_seconds(pid):
    """CPU time (user + system, all threads, exited ones too) of process `pid`, in seconds.

    The process's CPU-time clock (clock_getcpuclockid: ((~pid) << 3) | CPUCLOCK_SCHED) has
    nanosecond resolution; /proc/<pid>/stat's utime + stime is the same sum in clock ticks
    (10 ms), used if the clock cannot be read. 0 once the process is gone."""
    try:
        return time.clock_gettime_ns(((~pid) << 3) | 2) / 1e9
    except OSError:
        pass
    st = read_stat(pid)
    return (st["utime"] + st["stime"]) / CLK_TCK if st else 0.0


def cpu_method(pid):
    """How cpu_seconds reads `pid`'s CPU, for reports."""
    try:
        time.clock_gettime_ns(((~pid) << 3) | 2)
        return "process CPU clock (clock_getcpuclockid, ns)"
    except OSError:
        return f"/proc/<pid>/stat utime+stime / {CLK_TCK}"
