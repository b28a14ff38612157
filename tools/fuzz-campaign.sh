#!/usr/bin/env bash
# The longer fuzz campaign, on demand (CI runs each target for seconds only): every libFuzzer
# target of a clang build (label `fuzz`, tests/CMakeLists.txt xsmb_fuzz_target) for N minutes
# on its seed corpus tests/fuzz/corpus/NAME. A crash is minimized (-minimize_crash) and the
# minimized input is added to that corpus as regression-<sha1 prefix>, so that CI's fuzz runs and
# the sanitizer tier's replay (-runs=0) test it from then on; that target stops there (its seed
# corpus now crashes it at once: fix it first), the others go on. New coverage stays in BUILD_DIR/fuzz-campaign/NAME/corpus (not committed).
#   tools/fuzz-campaign.sh [MINUTES]      default 10 minutes per target
#   BUILD_DIR=build        a tree configured with -DXSMB_BUILD_FUZZ=ON (tools/run-tests.sh's)
#   TARGETS="a b"          only these targets (names as in tests/fuzz/corpus)
#   SECONDS_PER_TARGET=n   overrides MINUTES (short trial runs)
# Exits 1 when any target crashed (its regression seeds are then in the work tree: commit them
# with the fix), 0 otherwise.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1

BUILD_DIR="${BUILD_DIR:-build}"
MINUTES="${1:-10}"
PER_TARGET="${SECONDS_PER_TARGET:-$((MINUTES * 60))}"
CAMPAIGN="${BUILD_DIR}/fuzz-campaign"

if [[ -z "${TARGETS:-}" ]]; then
  # The fuzzing entries of ctest (label exactly "fuzz"; "fuzz-replay" are the replays).
  TARGETS=$(ctest --test-dir "${BUILD_DIR}" -N -L '^fuzz$' | sed -n 's/^ *Test *#[0-9]*: //p')
fi
if [[ -z "${TARGETS}" ]]; then
  echo "fuzz-campaign: no fuzz targets in ${BUILD_DIR} (configure with clang and -DXSMB_BUILD_FUZZ=ON)" >&2
  exit 2
fi

# Minimizes one crash input of target $1 (binary $2, artifact $3) into the seed corpus.
keep_regression() {
  local name=$1 bin=$2 artifact=$3 min
  min="${artifact}.min"
  "${bin}" -minimize_crash=1 -runs=5000 -exact_artifact_path="${min}" "${artifact}" \
    >"${artifact}.minimize.log" 2>&1
  [[ -s "${min}" ]] || cp "${artifact}" "${min}"  # not reproducible alone: keep it as it is
  local seed
  seed="tests/fuzz/corpus/${name}/regression-$(sha1sum "${min}" | cut -c1-12)"
  mkdir -p "tests/fuzz/corpus/${name}"
  cp "${min}" "${seed}"
  echo "fuzz-campaign: ${name}: crash minimized to ${seed} ($(stat -c %s "${seed}") bytes)" >&2
}

# Fuzzes target $1 for PER_TARGET seconds or until its first crash; prints the crash count.
run_target() {
  local name=$1 bin work crashes=0 deadline left
  bin=$(find "${BUILD_DIR}/tests/fuzz" -type f -name "${name}" -perm -u+x | head -1)
  if [[ -z "${bin}" ]]; then
    echo "fuzz-campaign: ${name}: binary not found under ${BUILD_DIR}/tests/fuzz" >&2
    echo 1
    return
  fi
  work="${CAMPAIGN}/${name}"
  mkdir -p "${work}/corpus" "${work}/crashes" "tests/fuzz/corpus/${name}"
  deadline=$(($(date +%s) + PER_TARGET))
  while left=$((deadline - $(date +%s))); ((left > 0)); do
    local before
    before=$(find "${work}/crashes" -maxdepth 1 -type f ! -name '*.min' ! -name '*.log' | wc -l)
    ASAN_OPTIONS=detect_leaks=1 "${bin}" -max_total_time="${left}" -rss_limit_mb=2048 \
      -artifact_prefix="${work}/crashes/" -print_final_stats=1 \
      "${work}/corpus" "tests/fuzz/corpus/${name}" >>"${work}/fuzz.log" 2>&1
    local rc=$?
    local artifact
    artifact=$(find "${work}/crashes" -maxdepth 1 -type f ! -name '*.min' ! -name '*.log' \
      -printf '%T@ %p\n' | sort -n | tail -1 | cut -d' ' -f2-)
    if ((rc == 0)); then
      break
    fi
    if [[ -z "${artifact}" ]] ||
      (($(find "${work}/crashes" -maxdepth 1 -type f ! -name '*.min' ! -name '*.log' | wc -l) == before)); then
      echo "fuzz-campaign: ${name}: exited ${rc} without a crash input (see ${work}/fuzz.log)" >&2
      crashes=$((crashes + 1))
      break
    fi
    crashes=$((crashes + 1))
    keep_regression "${name}" "${bin}" "${artifact}" >&2
    break
  done
  echo "${crashes}"
}

failed=0
for name in ${TARGETS}; do
  echo "== fuzz-campaign: ${name} for ${PER_TARGET} s" >&2
  n=$(run_target "${name}")
  echo "== fuzz-campaign: ${name}: ${n} crash(es); log ${CAMPAIGN}/${name}/fuzz.log" >&2
  ((n > 0)) && failed=1
done
exit "${failed}"
