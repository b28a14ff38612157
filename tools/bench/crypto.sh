#!/usr/bin/env bash
# Encryption and signing cost, xsmbd next to Samba's smbd (a benchmark, not a test).
#
# Starts xsmbd and, when installed, Samba's smbd on free 127.0.0.1 ports with the same share
# (tests/integration/harness.py starts and always stops them), then moves a file of SIZE bytes
# with smbclient -m SMB3_11 in three modes: --client-protection=off (plain), sign (AES-GMAC with
# Samba 4.15+ on both ends) and encrypt (AES-128-GCM, smbclient's first choice). Each round
# writes (put) and reads (get to /dev/null) once per server and mode, interleaved so that drift
# on a shared machine hits every cell alike. Reports the median MB/s (wall clock of the whole
# smbclient run, logon included) and each mode as a ratio to the same server's plain number.
#
# Usage: tools/bench/crypto.sh [--size BYTES] [--rounds N] [--no-smbd] [--xsmbd PATH]
#                              [--xsmbctl PATH]
#   defaults: --size 1073741824 --rounds 5; binaries: $XSMBD/$XSMBCTL, else the newest build*/.
# Needs smbclient (and smbd for the comparison; `apt-get install samba`). Run as root for smbd
# (it creates the Unix account xsmbbench the Samba side maps the SMB user to).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
export XSMB_REPO="$repo"
exec python3 - "$@" <<'PY'
import argparse
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.environ["XSMB_REPO"], "tests", "integration"))
import harness  # noqa: E402

USER, PASSWORD = "xsmbbench", "B3nch-crypto-pass"
MODES = ("off", "sign", "encrypt")
MODE_NAMES = {"off": "plain", "sign": "signed", "encrypt": "encrypted"}

p = argparse.ArgumentParser(prog="crypto.sh")
p.add_argument("--size", type=int, default=1 << 30)
p.add_argument("--rounds", type=int, default=5)
p.add_argument("--no-smbd", action="store_true")
p.add_argument("--xsmbd")
p.add_argument("--xsmbctl")
args = p.parse_args()
if args.xsmbd:
    os.environ["XSMBD"] = os.path.abspath(args.xsmbd)
if args.xsmbctl:
    os.environ["XSMBCTL"] = os.path.abspath(args.xsmbctl)
for var in ("XSMBD", "XSMBCTL"):
    if os.environ.get(var):
        os.environ[var] = os.path.abspath(os.environ[var])


def make_server(kind):
    # Log level 1 on both: logging must not be what is measured.
    s = harness.Server(kind=kind, log_level=1)
    s.add_share("bench", {"read only": "no", "create mask": "0666"})
    s.add_user(USER, PASSWORD, unix_user=USER if kind == "smbd" else None)
    return s


servers = []
try:
    servers.append(("xsmbd", make_server("xsmbd")))
except Exception as e:  # noqa: BLE001 - report and stop
    sys.exit(f"crypto.sh: cannot set up xsmbd: {e}")
if not args.no_smbd:
    try:
        servers.append(("smbd", make_server("smbd")))
    except Exception as e:  # noqa: BLE001 - smbd is optional
        print(f"crypto.sh: smbd skipped: {e}", file=sys.stderr)
for name, s in servers:
    if s.kind == "smbd":
        s._ensure_unix_account(USER)
    s.start(timeout=30)

work = harness.make_temp_dir("xsmbd-bench-crypto-")
src = work / "src.bin"
with open(src, "wb") as f:
    left = args.size
    block = os.urandom(1 << 20)
    while left:
        n = min(left, len(block))
        f.write(block[:n])
        left -= n

results = {(n, m, d): [] for n, _ in servers for m in MODES for d in ("read", "write")}


def transfer(server, mode, direction):
    cmd = f"put {src} f.bin" if direction == "write" else "get f.bin /dev/null"
    t0 = time.monotonic()
    rc, out = server.smbclient("bench", cmd, user=USER, password=PASSWORD, dialect="SMB3_11",
                               protection=mode, cwd=work, timeout=1800)
    dt = time.monotonic() - t0
    if rc != 0 or "NT_STATUS_" in out:
        raise SystemExit(f"crypto.sh: {server.kind} {mode} {direction} failed (rc {rc}):\n{out}")
    return args.size / dt / 1e6


print(f"# {args.size} bytes, {args.rounds} rounds, smbclient -m SMB3_11, "
      f"servers: {', '.join(n for n, _ in servers)}", flush=True)
for r in range(args.rounds):
    for name, s in servers:
        for mode in MODES:
            for direction in ("write", "read"):
                mbps = transfer(s, mode, direction)
                results[(name, mode, direction)].append(mbps)
                print(f"round {r + 1} {name:6} {MODE_NAMES[mode]:9} {direction:5} "
                      f"{mbps:8.1f} MB/s", flush=True)

for name, s in servers:
    s.stop()

med = {k: statistics.median(v) for k, v in results.items()}
print()
print(f"{'server':7} {'mode':10} {'read MB/s':>10} {'ratio':>6} {'write MB/s':>11} {'ratio':>6}")
for name, _ in servers:
    for mode in MODES:
        rd, wr = med[(name, mode, "read")], med[(name, mode, "write")]
        rd0, wr0 = med[(name, "off", "read")], med[(name, "off", "write")]
        print(f"{name:7} {MODE_NAMES[mode]:10} {rd:10.1f} {rd / rd0:6.2f} {wr:11.1f} "
              f"{wr / wr0:6.2f}")
ratio = med[("xsmbd", "encrypt", "read")] / med[("xsmbd", "off", "read")]
print(f"\nxsmbd encrypted read = {ratio * 100:.0f}% of its plain read (issue 3 asks >= 60%)")
PY
