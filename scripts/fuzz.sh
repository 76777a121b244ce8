#!/usr/bin/env bash
# Builds the libFuzzer targets (the `fuzz` preset: clang, AddressSanitizer, UBSan) and runs each
# for SECONDS (default 60) over its corpus in tests/fuzz/corpus/, as many side by side as there are
# CPUs, then prints what each run did.
# New inputs that reach new code go to build-fuzz/corpus/TARGET (copy the interesting ones into
# tests/fuzz/corpus/); a crash stops with its input saved as build-fuzz/crash-TARGET-*, and the
# script fails. Usage: scripts/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
seconds="${1:-60}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then targets=(server_request client_responses push_payload); fi
scripts/configure.sh fuzz
cmake --build --preset fuzz -j "$(nproc)"
# The targets run side by side, as many at once as there are CPUs, each for SECONDS.
run_target() {
  local t=$1 work="build-fuzz/corpus/$1" log="build-fuzz/fuzz-$1.log"
  mkdir -p "$work"
  # A fixed seed: the same binary and corpus make the same inputs, so a CI run repeats what was
  # run before it landed (CAIRN_FUZZ_SEED=0 lets libFuzzer pick one, for a longer hunt).
  "build-fuzz/bin/fuzz_$t" -seed="${CAIRN_FUZZ_SEED:-1}" -max_total_time="$seconds" \
    -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="build-fuzz/crash-$t-" \
    "$work" "tests/fuzz/corpus/$t" >"$log" 2>&1
}
status=0
pending=("${targets[@]}")
while [ ${#pending[@]} -gt 0 ]; do
  batch=("${pending[@]:0:$(nproc)}")
  pending=("${pending[@]:${#batch[@]}}")
  pids=()
  for t in "${batch[@]}"; do
    echo "fuzz: $t for ${seconds}s"
    run_target "$t" &
    pids+=($!)
  done
  for i in "${!batch[@]}"; do
    t=${batch[$i]}
    log="build-fuzz/fuzz-$t.log"
    if ! wait "${pids[$i]}"; then
      echo "fuzz: $t FAILED, see $log"
      tail -40 "$log"
      status=1
    fi
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || echo "?")
    echo "fuzz: $t: $execs inputs run, coverage $cov edges, corpus $(ls "build-fuzz/corpus/$t" | wc -l) new + $(ls "tests/fuzz/corpus/$t" | wc -l) seeds"
  done
done
exit $status
