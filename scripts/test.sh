#!/usr/bin/env bash
# The README's test command: installs what is missing, configures, builds and runs every test,
# then runs the suite again under AddressSanitizer + UBSan, the concurrency suites under
# ThreadSanitizer, and each fuzz target for CAIRN_FUZZ_SECONDS (30) under ASan + UBSan
# (docs/reliability.md). CAIRN_SKIP_SANITIZERS=1 skips all three on a developer machine; CI always
# runs them.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake --preset default >/dev/null
cmake --build --preset default -j "$(nproc)"
ctest --preset default
if [ "${CAIRN_SKIP_SANITIZERS:-0}" = 1 ]; then
  echo "test.sh: CAIRN_SKIP_SANITIZERS=1: the asan, tsan and fuzz runs are skipped" >&2
  exit 0
fi
for preset in asan tsan; do
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset" -j "$(nproc)"
  ctest --preset "$preset"
done
scripts/fuzz.sh "${CAIRN_FUZZ_SECONDS:-30}"
