#!/usr/bin/env bash
# The README's test command: installs what is missing, configures, builds, runs clang-tidy on the
# library sources the last commit changed (scripts/tidy.sh) and every test, then runs the suite
# again under AddressSanitizer + UBSan, the concurrency suites under ThreadSanitizer, and each fuzz
# target for CAIRN_FUZZ_SECONDS (30) under ASan + UBSan (docs/reliability.md).
# CAIRN_SKIP_SANITIZERS=1 skips all three on a developer machine; CI always runs them. At the end,
# pass or fail, it prints how long each stage took.
set -euo pipefail
cd "$(dirname "$0")/.."

stages=()
stage_start=$SECONDS
stage_name=""
# Starts timing a stage (and ends the one before).
stage() {
  if [ -n "$stage_name" ]; then stages+=("$(printf '%6d s  %s' $((SECONDS - stage_start)) "$stage_name")"); fi
  stage_name=$1
  stage_start=$SECONDS
}
report() {
  local code=$?
  stage ""
  echo
  echo "test.sh: stage times"
  for line in "${stages[@]}"; do echo "$line"; done
  printf '%6d s  total\n' "$SECONDS"
  exit "$code"
}
trap report EXIT

stage "install dependencies"
scripts/install-deps.sh
stage "build (default)"
scripts/configure.sh default
cmake --build --preset default -j "$(nproc)"
stage "clang-tidy (the files the last commit changed)"
scripts/tidy.sh
# The tests spend about half their time waiting (on servers, fsync, each other), so they run two
# per CPU: that keeps both cores of a CI machine busy.
test_jobs=$(($(nproc) * 2))
stage "tests (default)"
ctest --preset default -j "$test_jobs"
if [ "${CAIRN_SKIP_SANITIZERS:-0}" = 1 ]; then
  echo "test.sh: CAIRN_SKIP_SANITIZERS=1: the asan, tsan and fuzz runs are skipped" >&2
  exit 0
fi
for preset in asan tsan; do
  stage "build ($preset)"
  scripts/configure.sh "$preset"
  cmake --build --preset "$preset" -j "$(nproc)"
  stage "tests ($preset)"
  ctest --preset "$preset" -j "$test_jobs"
done
stage "fuzz"
scripts/fuzz.sh "${CAIRN_FUZZ_SECONDS:-30}"
