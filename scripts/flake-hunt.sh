#!/usr/bin/env bash
# Runs the default test suite N times (default 10) while a load generator of its own keeps every
# CPU busy, and prints each test that failed with how many runs it failed in. A test whose verdict
# depends on the machine's speed shows up here; a clean hunt is the check before a change goes in.
#
#   scripts/flake-hunt.sh [N] [-- CTEST_ARGS...]
#
# CTEST_ARGS narrow the suite, e.g. `scripts/flake-hunt.sh 20 -- -R 'Scheduling|PushChannel'`.
# FLAKE_LOAD sets how many busy loops run beside the tests (default: one per CPU; 0 for none).
# Each run's full output is kept in build/flake-hunt/run-K.log.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=10
if [ $# -gt 0 ] && [ "$1" != "--" ]; then
  runs=$1
  shift
fi
[ "${1:-}" = "--" ] && shift
case "$runs" in '' | *[!0-9]*) echo "flake-hunt: N must be a whole number, not '$runs'" >&2; exit 2 ;; esac

scripts/install-deps.sh
scripts/configure.sh default
cmake --build --preset default -j "$(nproc)"

logs=build/flake-hunt
rm -rf "$logs"
mkdir -p "$logs"

# The load: busy loops at the tests' own priority, stopped whatever way this script ends.
load=${FLAKE_LOAD:-$(nproc)}
hogs=()
stop_load() {
  if [ ${#hogs[@]} -gt 0 ]; then kill "${hogs[@]}" 2>/dev/null || true; fi
  wait 2>/dev/null || true
}
trap stop_load EXIT
for ((i = 0; i < load; i++)); do
  bash -c 'while :; do :; done' &
  hogs+=($!)
done
echo "flake-hunt: $runs runs of the default suite beside $load busy loops" >&2

declare -A failed_in=()
failed_runs=0
start=$SECONDS
for ((run = 1; run <= runs; run++)); do
  log="$logs/run-$run.log"
  run_start=$SECONDS
  if ctest --preset default "$@" >"$log" 2>&1; then
    verdict=passed
  else
    verdict=failed
    failed_runs=$((failed_runs + 1))
    # ctest's closing list: "  12 - Suite.Test (Failed)" (or Timeout, SEGFAULT, ...).
    while read -r name; do
      failed_in[$name]=$((${failed_in[$name]:-0} + 1))
    done < <(sed -n '/The following tests FAILED:/,$p' "$log" | sed -n 's/^[[:space:]]*[0-9]* - \(.*\) (.*)$/\1/p')
  fi
  summary=$(grep -E '^[0-9]+% tests passed' "$log" || echo "no summary (see $log)")
  echo "flake-hunt: run $run/$runs $verdict in $((SECONDS - run_start)) s: $summary" >&2
done

echo
echo "flake-hunt: $runs runs in $((SECONDS - start)) s under load $load; $failed_runs with failures"
if [ ${#failed_in[@]} -eq 0 ]; then
  echo "flake-hunt: no test failed"
else
  echo "flake-hunt: failing tests (runs failed / runs):"
  for name in "${!failed_in[@]}"; do
    printf '  %3d / %d  %s\n' "${failed_in[$name]}" "$runs" "$name"
  done | sort -rn
fi
echo "flake-hunt: $((runs - failed_runs)) passed, $failed_runs failed"
[ "$failed_runs" -eq 0 ]
