#!/usr/bin/env bash
# The sanitizer tier: the tree built with AddressSanitizer + UndefinedBehaviorSanitizer
# (-DXSMBD_SANITIZE=address,undefined, undefined behaviour aborts), then its tests. The servers
# it starts (xsmbd and its RPC helper xsmb-rpcd, both instrumented) fail their test on any
# ASan/LSan/UBSan report in their log, or when xsmbd does not exit on SIGTERM (LeakSanitizer
# reports at exit); a unit test or a fuzz replay fails on its own report (the process aborts).
#   tools/sanitize.sh [ci]     the whole tree; unit tests, fuzz-corpus replay, the
#                              16-connection lock stress, smbclient, rpcclient and the listed
#                              smbtorture tests (tests/smbtorture/passing.txt). With
#                              COMPILER=gcc this is what CI runs (.ci/run)
#   tools/sanitize.sh full     the whole tree; unit tests, fuzz-corpus replay and every
#                              integration test (ctest -L integration): on demand, much longer
#   tools/sanitize.sh server   only the daemons (xsmbd, xsmb-rpcd, xsmbctl) instrumented, then
#                              the lock stress, smbclient and rpcclient tests (~5 minutes)
#   COMPILER=clang (default)   clang, RelWithDebInfo, into build-asan; the fuzz targets are
#                              libFuzzer binaries replaying their corpus with -runs=0
#   COMPILER=gcc               Debian 12's GCC 12 at -Og without debug information (the build
#                              is CI's longest stage; UBSan reports carry file:line without it,
#                              ASan's stacks function names), into build-gcc-asan; GCC has no
#                              libFuzzer, so each fuzz target is built with
#                              tests/fuzz/replay_main.cc as its driver (same fuzz-replay label)
#   JOBS=N (default 2), BUILD_DIR (default per compiler, above), TORTURE=0 skips the
#   smbtorture stage of the ci tier
# Each stage prints its wall time ("== sanitize: <stage> took N s").
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

TIER="${1:-ci}"
JOBS="${JOBS:-2}"
COMPILER="${COMPILER:-clang}"
case "${COMPILER}" in
  clang)
    BUILD_DIR="${BUILD_DIR:-build-asan}"
    compiler=(-DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++)
    ;;
  gcc)
    BUILD_DIR="${BUILD_DIR:-build-gcc-asan}"
    compiler=(-DCMAKE_C_COMPILER=gcc -DCMAKE_CXX_COMPILER=g++ -DCMAKE_BUILD_TYPE=None
              -DCMAKE_C_FLAGS=-Og -DCMAKE_CXX_FLAGS=-Og)
    ;;
  *)
    echo "sanitize.sh: COMPILER must be clang or gcc, not '${COMPILER}'" >&2
    exit 2
    ;;
esac
case "${TIER}" in
  ci | full | server) ;;
  *)
    echo "sanitize.sh: the tier is ci, full or server, not '${TIER}'" >&2
    exit 2
    ;;
esac
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1:detect_stack_use_after_return=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
# Absolute: ctest runs each test in its own directory under the build.
[[ "${BUILD_DIR}" == /* ]] || BUILD_DIR="${PWD}/${BUILD_DIR}"
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
echo "== sanitize: ${TIER} tier with $(${COMPILER} --version | head -1) into ${BUILD_DIR}" >&2
stage configure cmake -S . -B "${BUILD_DIR}" -G Ninja "${compiler[@]}" "${launcher[@]}" \
  -DXSMBD_SANITIZE=address,undefined -DXSMB_BUILD_TESTS=ON -DXSMB_BUILD_FUZZ=ON
if [[ "${TIER}" == server ]]; then
  stage build ninja -C "${BUILD_DIR}" -j"${JOBS}" xsmbd xsmb-rpcd xsmbctl
else
  stage build ninja -C "${BUILD_DIR}" -j"${JOBS}"
  stage unit ctest_run -L '^unit$'
  stage fuzz-replay ctest_run -L '^fuzz-replay$'
fi
if [[ "${TIER}" == full ]]; then
  stage integration ctest_run -L '^integration$'
else
  stage lock-stress ctest_run -R '^integration_lock_stress$'
  stage smbclient ctest_run -R '^integration_smbclient$'
  stage rpcclient ctest_run -R '^integration_rpc$'
  if [[ "${TIER}" == ci && "${TORTURE:-1}" != 0 ]]; then
    stage smbtorture ctest_run -R '^integration_smbtorture$'
  fi
fi
echo "== sanitize: ${TIER} tier passed (${COMPILER})" >&2
