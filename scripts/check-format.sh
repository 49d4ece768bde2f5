#!/usr/bin/env bash
# Fails when a C source or header differs from what clang-format (the repo's .clang-format) makes.
# The formatter is the one pinned in tests/servers/npm (@wasm-fmt/clang-format, a WebAssembly
# build run by node), not the distribution's clang-format: Debian 12 ships 14 and Debian 13 ships
# 19, and they disagree on some layouts, so one pinned version is the only way both releases (and
# every developer) agree. `scripts/check-format.sh --fix` rewrites the files instead.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/services/lib.sh
npm=$(ensure_npm_tools check-format.sh)
cf=("node" "$npm/node_modules/@wasm-fmt/clang-format/clang-format-cli.cjs")
mapfile -t files < <(git ls-files -co --exclude-standard '*.c' '*.h' '*.cpp' | grep -v '^build')
existing=()
for f in "${files[@]}"; do [ -f "$f" ] && existing+=("$f"); done
if [ "${1:-}" = "--fix" ]; then
  "${cf[@]}" -i "${existing[@]}"
  echo "format: ${#existing[@]} files formatted"
  exit 0
fi
# One run over every file (node and the WebAssembly module start once); the files it names are
# the unformatted ones.
if out=$("${cf[@]}" --dry-run -Werror --color=false "${existing[@]}" 2>&1); then
  echo "format: ${#existing[@]} files clean"
  exit 0
fi
mapfile -t bad < <(printf '%s\n' "$out" | sed -n 's/^\([^: ]*\.\(c\|h\|cpp\)\):[0-9]*:[0-9]*: .*/\1/p' | sort -u)
[ "${#bad[@]}" -gt 0 ] || { printf '%s\n' "$out" >&2; exit 1; }
for f in "${bad[@]}"; do
  echo "format: $f is not clang-formatted (run: scripts/check-format.sh --fix)" >&2
done
exit 1
