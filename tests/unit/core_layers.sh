#!/usr/bin/env bash
# The include graph among src/core's files has no cycle. A .c file and the header of the same
# name are one node (errors.c and errors.h are "errors"), so a cycle here is two parts of the
# core each needing the other, e.g. the error table including the store layer that decorates it.
# usage: core_layers.sh SOURCE_DIR
set -euo pipefail
core="$1/src/core"
edges=$(mktemp)
trap 'rm -f "$edges"' EXIT
n=0
for f in "$core"/*.c "$core"/*.h; do
  from=$(basename "$f"); from=${from%.*}
  echo "$from $from" >>"$edges" # every file is a node, even one that includes nothing
  while read -r inc; do
    to=${inc%.h}
    [ "$to" = "$from" ] && continue
    echo "$from $to" >>"$edges"
    n=$((n + 1))
  done < <(sed -n 's/^#include "core\/\([a-z_0-9]*\.h\)".*/\1/p' "$f")
done
[ "$n" -gt 0 ] || { echo "FAIL no core/ includes found under $core"; exit 1; }
if ! order=$(tsort "$edges" 2>&1); then
  echo "FAIL src/core's include graph has a cycle:"
  echo "$order"
  exit 1
fi
echo "ok   src/core: $n includes between its files, no cycle (lowest layer last): $(echo $order)"
