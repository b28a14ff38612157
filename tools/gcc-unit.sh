#!/usr/bin/env bash
# The tree with Debian 12's default compiler, GCC 12, beside the clang build of run-tests.sh:
# configure BUILD_DIR (default build-gcc), build every target but the fuzz targets (libFuzzer
# needs clang) -- the libraries, xsmbd, xsmb-rpcd, xsmb-loader, xsmbctl, xsmb-bench and the unit
# tests --, and run the unit tests. -O0 without debug information keeps the build short on CI's
# 2 CPUs (the clang build before it is the optimized one) while every line still goes through
# GCC's front end, which is what this build is for (GCC 12 once stopped with an internal
# compiler error where clang did not).
# CI no longer runs it: its GCC build is the sanitizer tier's (COMPILER=gcc tools/sanitize.sh
# ci, .ci/run); this stays the quick GCC check without sanitizers for developers.
#   JOBS=N  parallel jobs (default 2)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

JOBS="${JOBS:-2}"
BUILD_DIR="${BUILD_DIR:-build-gcc}"
start=$(date +%s)

echo "== gcc-unit: configuring and building into ${BUILD_DIR} with $(g++ --version | head -1)" >&2
cmake -S . -B "${BUILD_DIR}" -G Ninja \
  -DCMAKE_C_COMPILER=gcc -DCMAKE_CXX_COMPILER=g++ \
  -DCMAKE_BUILD_TYPE=None -DCMAKE_C_FLAGS=-O0 -DCMAKE_CXX_FLAGS=-O0 \
  -DXSMB_BUILD_TESTS=ON -DXSMB_BUILD_FUZZ=OFF
ninja -C "${BUILD_DIR}" -j"${JOBS}"
built=$(date +%s)

echo "== gcc-unit: running the unit tests" >&2
ctest --test-dir "${BUILD_DIR}" -L unit --output-on-failure --no-tests=error -j"${JOBS}"
echo "== gcc-unit: build $((built - start)) s, unit tests $(($(date +%s) - built)) s" >&2
