#!/usr/bin/env bash
# The sanitizer tier: the whole tree built with AddressSanitizer + UndefinedBehaviorSanitizer
# (-DXSMBD_SANITIZE=address,undefined, undefined behaviour aborts) into ./build-asan, then its
# tests. The servers it starts (xsmbd and its RPC helper xsmb-rpcd, both instrumented) fail
# their test on any ASan/LSan/UBSan report in their log, or when xsmbd does not exit on SIGTERM
# (LeakSanitizer reports at exit).
#   tools/sanitize.sh          the CI tier: build, unit tests, fuzz-corpus replay (-runs=0),
#                              the 16-connection lock stress test, the smbclient test
#   tools/sanitize.sh full     also the rpcclient test and the listed smbtorture tests
#                              (tests/smbtorture/passing.txt): on demand, much longer
#   tools/sanitize.sh server   only the daemons (xsmbd, xsmb-rpcd, xsmbctl) instrumented, then
#                              the lock stress, smbclient and rpcclient tests: what CI runs
#                              (~5 minutes on the 2-CPU machine without ccache: build 208 s,
#                              lock stress 62 s, smbclient 29 s, rpcclient 6 s)
#   JOBS=N (default 2), BUILD_DIR (default build-asan)
# Each stage prints its wall time ("== sanitize: <stage> took N s").
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

TIER="${1:-ci}"
JOBS="${JOBS:-2}"
BUILD_DIR="${BUILD_DIR:-build-asan}"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1:detect_stack_use_after_return=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
export XSMBD_BUILD_DIR="${BUILD_DIR}"

stage() {
  local name="$1"
  shift
  local t0=${SECONDS}
  echo "== sanitize: ${name}" >&2
  "$@"
  echo "== sanitize: ${name} took $((SECONDS - t0)) s" >&2
}

ctest_run() {
  ctest --test-dir "${BUILD_DIR}" --output-on-failure --no-tests=error -j"${JOBS}" "$@"
}

launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
stage configure cmake -S . -B "${BUILD_DIR}" -G Ninja \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ "${launcher[@]}" \
  -DXSMBD_SANITIZE=address,undefined -DXSMB_BUILD_TESTS=ON -DXSMB_BUILD_FUZZ=ON
if [[ "${TIER}" == server ]]; then
  stage build ninja -C "${BUILD_DIR}" -j"${JOBS}" xsmbd xsmb-rpcd xsmbctl
else
  stage build ninja -C "${BUILD_DIR}" -j"${JOBS}"
  stage unit ctest_run -L '^unit$'
  stage fuzz-replay ctest_run -L '^fuzz-replay$'
fi
stage lock-stress ctest_run -R '^integration_lock_stress$'
stage smbclient ctest_run -R '^integration_smbclient$'
stage rpcclient ctest_run -R '^integration_rpc$'
if [[ "${TIER}" == full ]]; then
  stage smbtorture ctest_run -R '^integration_smbtorture$'
fi
echo "== sanitize: ${TIER} tier passed" >&2
