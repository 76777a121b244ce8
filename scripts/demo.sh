#!/usr/bin/env bash
# The README's main-job command: installs what is missing, configures, builds and runs the demo.
# Until the two-device demo lands (issue 6) it shows the CLI's help.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake --preset default >/dev/null
cmake --build --preset default -j "$(nproc)" --target cairn
build/bin/cairn --help
