#!/usr/bin/env bash
# The README's main-job command: installs what is missing, configures, builds and runs the
# two-device game-save demo against an embedded cairn-server on a free loopback port.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/configure.sh default
cmake --build --preset default -j "$(nproc)" --target cairn-demo cairn
exec build/bin/cairn-demo
