#!/usr/bin/env bash
# valgrind memcheck on the unit tests and the conformance suite (memory and SQLite): any error
# or definite leak fails (--error-exitcode=1). Only in builds without sanitizers.
# usage: test_valgrind.sh WORKDIR 'CMD ARGS' ...
set -uo pipefail
command -v valgrind >/dev/null || { echo "SKIP: valgrind is not installed"; exit 77; }
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ss-rel-vg.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
fails=0
n=0
for cmd in "$@"; do
  n=$((n + 1))
  log="$WORK/vg-$n.log"
  # --fair-sched: valgrind runs one thread at a time, and its default lock lets a busy thread
  # starve the others (the conformance suite runs 8-thread cases alongside its TTL waits).
  # shellcheck disable=SC2086
  if (cd "$WORK" && valgrind --error-exitcode=1 --fair-sched=try --leak-check=full --errors-for-leak-kinds=definite \
    --track-origins=no --quiet --log-file="$log" $cmd >"$WORK/out-$n.txt" 2>&1); then
    echo "ok: valgrind clean: $cmd"
  else
    rc=$?
    echo "FAIL (exit $rc): valgrind: $cmd"
    tail -n 40 "$log" "$WORK/out-$n.txt"
    fails=$((fails + 1))
  fi
done
echo "test_valgrind: $n programs, $fails failed"
[ "$fails" -eq 0 ]
