#!/usr/bin/env bash
# Builds in Release and runs every benchmark: figures beside their floors, bench/results/latest.json,
# the PNG plots and (with --profile) a callgrind profile of cairn-server. Installs what is missing
# first, as the other scripts do. Extra arguments go to bench/run.py (--only NAME, --profile).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/configure.sh release
cmake --build --preset release -j "$(nproc)"
python3 bench/run.py --build-dir build-release --out bench/results "$@"
