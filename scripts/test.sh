#!/usr/bin/env bash
# The README's test command: installs what is missing, configures, builds, runs clang-tidy on the
# library sources the last commit changed (scripts/tidy.sh) and every test, then runs the suite
# again under AddressSanitizer + UBSan, the concurrency suites under ThreadSanitizer, and each fuzz
# target for CAIRN_FUZZ_SECONDS (30) under ASan + UBSan (docs/reliability.md). Each sanitized
# build runs beside the suite before it, at low priority: the tests wait on servers and disks about
# half the time, and the build takes what they leave (its output goes to build/logs/PRESET.log).
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
# The build running in the background, if any: started by build_beside, ended by its wait.
beside_pid=""
beside_preset=""
report() {
  local code=$?
  if [ -n "$beside_pid" ]; then kill -- "-$beside_pid" 2>/dev/null || true; fi
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
skip_sanitizers=${CAIRN_SKIP_SANITIZERS:-0}
mkdir -p build/logs
# Configures PRESET and builds it in the background, in a process group of its own (so that a
# failing stage stops it), at low priority.
build_beside() {
  beside_preset=$1
  setsid bash -c "scripts/configure.sh $1 && nice -n 15 cmake --build --preset $1 -j $(nproc)" \
    >"build/logs/$1.log" 2>&1 &
  beside_pid=$!
}
# Waits for the background build; a failed one fails the command, with the end of its log.
finish_beside() {
  local pid=$beside_pid
  beside_pid=""
  if ! wait "$pid"; then
    echo "test.sh: the $beside_preset build failed (build/logs/$beside_preset.log):" >&2
    tail -60 "build/logs/$beside_preset.log" >&2
    exit 1
  fi
}

if [ "$skip_sanitizers" = 1 ]; then
  stage "tests (default)"
  ctest --preset default -j "$test_jobs"
  echo "test.sh: CAIRN_SKIP_SANITIZERS=1: the asan, tsan and fuzz runs are skipped" >&2
  exit 0
fi
build_beside asan
stage "tests (default), the asan build beside them"
ctest --preset default -j "$test_jobs"
stage "build (asan), the rest"
finish_beside
build_beside tsan
stage "tests (asan), the tsan build beside them"
ctest --preset asan -j "$test_jobs"
stage "build (tsan), the rest"
finish_beside
build_beside fuzz
stage "tests (tsan), the fuzz build beside them"
ctest --preset tsan -j "$test_jobs"
stage "build (fuzz), the rest"
finish_beside
stage "fuzz"
scripts/fuzz.sh "${CAIRN_FUZZ_SECONDS:-30}"
