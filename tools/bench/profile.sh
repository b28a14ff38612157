#!/usr/bin/env bash
# Where xsmbd's CPU goes under xsmb-bench's per-byte workloads: perf record of the server (release
# build, one event loop under taskset -c 0, busy poll 0) during 1 MiB sequential read and write
# and 4 KiB random read of a file in the page cache, then the top symbols by self time and the
# system calls and xsmbd functions by total time (docs/performance.md, Session 13). The
# per-request workloads of issue 14 item 6 run smbtorture as the client: smb2.bench.echo (8 x 8)
# and smb2.bench.path-contention-shared (open+close of the share root, 4 x 4).
#
#   sudo tools/bench/profile.sh            # BUILD_DIR (default build-release) must hold xsmbd,
#                                          # xsmbctl and xsmb-bench; needs perf (linux-perf)
# Environment: BUILD_DIR, DURATION (seconds per workload, default 6), FILE_MB (default 256),
# WORKLOADS (default "seqread-1m seqwrite-1m randread-4k echo open-close"), KEEP (a directory
# the perf-<workload>.data files are copied to, for perf report).
set -uo pipefail
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
B="${BUILD_DIR:-$REPO/build-release}"
DURATION="${DURATION:-6}"
FILE_MB="${FILE_MB:-256}"
USER_NAME=xsmbbench PASSWORD=Bench-pw-1
command -v perf >/dev/null || { echo "profile.sh: perf is missing (apt-get install linux-perf)" >&2; exit 1; }
id "$USER_NAME" >/dev/null 2>&1 || useradd -M -N -s /usr/sbin/nologin "$USER_NAME"
work="$(mktemp -d /tmp/xsmbd-profile-XXXXXX)"
server=""
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null; wait "$server" 2>/dev/null; fi
  if [ -n "${KEEP:-}" ]; then mkdir -p "$KEEP" && cp "$work"/perf-*.data "$KEEP"/ 2>/dev/null; fi
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -m 0777 "$work/share"
head -c $((FILE_MB << 20)) /dev/urandom > "$work/share/big.bin" || exit 1
cp "$work/share/big.bin" "$work/share/write.bin"
chown -R "$USER_NAME" "$work/share"
cat "$work/share/big.bin" > /dev/null
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$work/smb.conf" <<EOF
[global]
  smb ports = $port
  interfaces = 127.0.0.1
  bind interfaces only = yes
  smb passwd file = $work/users.db
  busy poll = 0
[bench]
  path = $work/share
  read only = no
EOF
echo "$PASSWORD" | "$B/tools/xsmbctl/xsmbctl" --db "$work/users.db" user add "$USER_NAME" \
  --unix-user "$USER_NAME" >/dev/null
taskset -c 0 "$B/server/xsmbd" --config "$work/smb.conf" --foreground --log-level 1 \
  > "$work/xsmbd.log" 2>&1 &
server=$!
for _ in $(seq 50); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.1
done

report() {  # name: what perf recorded
  local name=$1
  echo "== $name: top symbols (self)"
  perf report -i "$work/perf-$name.data" --no-children --sort sym 2>/dev/null |
    grep -E '^ +[0-9]' | head -14
  echo "== $name: system calls and xsmbd functions (children)"
  perf report -i "$work/perf-$name.data" --children --sort sym 2>/dev/null |
    grep -E '^ +[0-9]' |
    grep -E '\] (__libc_sendmsg|epoll_wait|__libc_recv|__libc_recvmsg|preadv64v2|__close|statx|openat2|handle_softirqs|finish_task_switch.isra.0)$|\] xsmb::' |
    head -14
}

profile() {  # name, xsmb-bench arguments
  local name=$1 rec
  shift
  perf record -F 2999 -g -p "$server" -o "$work/perf-$name.data" 2>/dev/null &
  rec=$!
  sleep 0.3
  "$B/tools/xsmb-bench/xsmb-bench" --host 127.0.0.1 --port "$port" --share bench \
    --user "$USER_NAME" --password "$PASSWORD" --duration "$DURATION" "$@" 2>&1 | tail -2
  kill -INT "$rec"
  wait "$rec" 2>/dev/null || true
  report "$name"
}

torture() {  # name, smbtorture test, nprocs, qdepth
  local name=$1 rec
  command -v smbtorture >/dev/null || { echo "== $name: smbtorture is missing (samba-testsuite)"; return; }
  perf record -F 2999 -g -p "$server" -o "$work/perf-$name.data" 2>/dev/null &
  rec=$!
  sleep 0.3
  smbtorture "//127.0.0.1/bench" -p "$port" -U "$USER_NAME%$PASSWORD" \
    "--option=torture:nprocs=$3" "--option=torture:qdepth=$4" \
    "--option=torture:timelimit=$DURATION" "$2" 2>&1 | grep -E 'num/s' | tail -1
  kill -INT "$rec"
  wait "$rec" 2>/dev/null || true
  report "$name"
}

for w in ${WORKLOADS:-seqread-1m seqwrite-1m randread-4k echo open-close}; do
  case "$w" in
    seqread-1m) profile seqread-1m --workload seqread --block 1m --qd 8 --path big.bin ;;
    seqwrite-1m) profile seqwrite-1m --workload seqwrite --block 1m --qd 8 --path write.bin ;;
    randread-4k) profile randread-4k --workload randread --block 4k --qd 32 --path big.bin ;;
    echo) torture echo smb2.bench.echo 8 8 ;;
    open-close) torture open-close smb2.bench.path-contention-shared 4 4 ;;
    *) echo "profile.sh: unknown workload $w" >&2 ;;
  esac
done
