#!/usr/bin/env bash
# One-command benchmark: xsmbd against Samba's smbd on this machine (loopback only).
#
#   tools/bench/run.sh                 # full run (several rounds, ~15 minutes)
#   QUICK=1 tools/bench/run.sh         # short development run (~2 minutes)
#
# Builds xsmbd, xsmbctl and xsmb-bench (Release) into $BUILD_DIR (default build-release),
# then runs tools/bench/bench.py, which starts both servers the same way on free 127.0.0.1
# ports with one share directory and one logon, measures raw loopback TCP with iperf3, runs
# smbtorture's smb2.bench.*, smbclient get/put and xsmb-bench workloads in alternation, and
# prints medians and xsmbd/Samba ratios of throughput and of each server's CPU time per request
# (user and system apart, every process and thread of the server, children included); JSON
# goes to $OUT (default $BUILD_DIR/bench.json).
# Needs root (smbd, and xsmbd switching to the share user) and:
#   BENCH=1 tools/install-deps.sh      # samba, iperf3, smbclient, samba-testsuite
# Environment: QUICK ROUNDS DURATION BIG_FILE_MB IDLE_SESSIONS IDLE_SESSIONS_SAMBA ONLY OUT
# TRANSFERS (smbclient get/put transfers per round, median taken; default 3)
# SHARE_OPTIONS ("use sendfile = yes; ...": added to both servers' [bench] share)
# XSMBD_GLOBAL ("busy poll = 0; ...": added to xsmbd's [global] only), SERVER_CPUS ("0":
# both servers run under taskset -c 0)
# TCP_CC (e.g. cubic: the system's TCP congestion control for the whole run, restored after;
# the table's header and the JSON name the one in use, see docs/performance.md "Session 4").
set -euo pipefail
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$REPO/build-release}"
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  cmake -S "$REPO" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_CXX_COMPILER="${CXX:-clang++}" -DCMAKE_C_COMPILER="${CC:-clang}" >/dev/null
  ninja -C "$BUILD_DIR" -j"${JOBS:-$(nproc)}" xsmbd xsmbctl xsmb-bench
fi
for tool in smbd pdbedit smbclient smbtorture iperf3; do
  if ! command -v "$tool" >/dev/null && [ ! -x "/usr/sbin/$tool" ]; then
    echo "run.sh: $tool is missing; run: BENCH=1 tools/install-deps.sh" >&2
    exit 1
  fi
done
export XSMBD="$BUILD_DIR/server/xsmbd" XSMBCTL="$BUILD_DIR/tools/xsmbctl/xsmbctl"
export XSMB_BENCH="$BUILD_DIR/tools/xsmb-bench/xsmb-bench"
exec python3 "$REPO/tools/bench/bench.py" --out "${OUT:-$BUILD_DIR/bench.json}" "$@"
