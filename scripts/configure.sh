#!/usr/bin/env bash
# Configures a CMake preset (CMakePresets.json). The presets build with Ninja; a build directory
# that another generator made (an older checkout's Makefiles) is configured afresh instead of
# failing. Usage: scripts/configure.sh PRESET
set -euo pipefail
cd "$(dirname "$0")/.."
preset=$1
dir=$(sed -n "/\"name\": \"$preset\"/,/binaryDir/s/.*\"binaryDir\": \"\${sourceDir}\/\([^\"]*\)\".*/\1/p" \
  CMakePresets.json | head -1)
fresh=()
if [ -n "$dir" ] && [ -f "$dir/CMakeCache.txt" ] && ! grep -q '^CMAKE_GENERATOR:INTERNAL=Ninja$' "$dir/CMakeCache.txt"; then
  echo "configure: $dir was made by another generator; configuring it afresh for Ninja" >&2
  fresh=(--fresh)
fi
cmake --preset "$preset" "${fresh[@]}" >/dev/null
