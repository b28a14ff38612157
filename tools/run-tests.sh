#!/usr/bin/env bash
# Command 2: install dependencies, build everything into ./build and run every test tier
# (labels unit, fuzz, integration) with ctest. Exits non-zero if anything fails.
#   JOBS=N        parallel build/test jobs (default 2)
#   CTEST_ARGS    extra ctest arguments, e.g. CTEST_ARGS="-L unit"
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

JOBS="${JOBS:-2}"
BUILD_DIR="${BUILD_DIR:-build}"

echo "== run-tests: installing dependencies" >&2
bash tools/install-deps.sh

echo "== run-tests: configuring and building into ${BUILD_DIR}" >&2
cmake -S . -B "${BUILD_DIR}" -G Ninja \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DXSMB_BUILD_TESTS=ON -DXSMB_BUILD_FUZZ=ON
ninja -C "${BUILD_DIR}" -j"${JOBS}"

echo "== run-tests: running tests" >&2
# Integration tests are RUN_SERIAL; unit and fuzz tests share the remaining jobs.
# shellcheck disable=SC2086
ctest --test-dir "${BUILD_DIR}" --output-on-failure --no-tests=error -j"${JOBS}" \
  ${CTEST_ARGS:-}
