#!/usr/bin/env bash
# Runs clang-tidy with the project's checks (.clang-tidy) against the default build's
# compile_commands.json (configure and build it first: scripts/configure.sh default).
#
#   scripts/tidy.sh          the library sources the last commit and the work tree change
#   scripts/tidy.sh --all    every library source
#   scripts/tidy.sh FILE...  the files given
#
# A finding is an error: the exit status is non-zero and the finding is printed.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f build/compile_commands.json ]; then
  echo "tidy.sh: build/compile_commands.json is missing: run scripts/configure.sh default" >&2
  exit 2
fi
modules='^(common|transport|localstore|conflict|engine|server)/([^/]+/)?[^/]+\.cc$'
files=()
if [ "${1:-}" = "--all" ]; then
  mapfile -t files < <(git ls-files | grep -E "$modules" || true)
elif [ $# -gt 0 ]; then
  files=("$@")
else
  changed=$( (git diff --name-only HEAD~1 HEAD 2>/dev/null || true; git diff --name-only HEAD) | sort -u)
  # A changed header brings in the sources of its own module that include it.
  for f in $changed; do
    case "$f" in
      *.h)
        [ -f "$f" ] || continue
        dir=${f%%/*}
        grep -lF "#include \"$f\"" "$dir"/*.cc 2>/dev/null || true
        ;;
      *) echo "$f" ;;
    esac
  done > /tmp/tidy-candidates.$$
  mapfile -t files < <(sort -u /tmp/tidy-candidates.$$ | grep -E "$modules" | while read -r f; do [ -f "$f" ] && echo "$f"; done || true)
  rm -f /tmp/tidy-candidates.$$
fi
if [ ${#files[@]} -eq 0 ]; then
  echo "tidy.sh: no library source to check"
  exit 0
fi
echo "tidy.sh: ${#files[@]} file(s)"
printf '%s\n' "${files[@]}" |
  xargs -r -P "$(nproc)" -n 1 clang-tidy -p build --quiet 2> >(grep -v "warnings\? generated\|^Suppressed\|^Use -header-filter\|NOLINT" >&2)
echo "tidy.sh: clean"
