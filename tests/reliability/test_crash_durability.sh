#!/usr/bin/env bash
# shellcheck disable=SC1091,SC2034,SC2154  # PORT_x, PID_x, LOG_x, BASE_x come from daemon_start
# Crash durability: kill -9 statestored in the middle of a write load, restart it; every write
# that got its 204 before the kill must be there, byte-exact, and the database not corrupt
# (PRAGMA integrity_check for SQLite). Runs on the embedded default store (SQLite, WAL and
# rollback journal) and on PostgreSQL / MySQL when SS_TEST_POSTGRES_DSN / SS_TEST_MYSQL_DSN are set.
# REL_CRASH_WRITERS concurrent writers (default 4), REL_CRASH_ROUNDS kill/restart rounds (2).
# usage: test_crash_durability.sh STATESTORED
set -uo pipefail
STATESTORED=$1
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ss-rel-crash.XXXXXX")
. "$(dirname "$0")/rel_lib.sh"
trap rel_cleanup EXIT
command -v sqlite3 >/dev/null || skip "sqlite3 (the CLI) is not installed: cannot check integrity"

WRITERS=${REL_CRASH_WRITERS:-4}
ROUNDS=${REL_CRASH_ROUNDS:-2}
TOTAL_ACKED=0
TOTAL_LOST=0

# crash_round LABEL STORE ARGS...: one daemon life: writers, kill -9 after some acks, restart,
# check every acknowledged write of every round so far.
crash_cycle() {
  local label=$1 store=$2; shift 2
  local r w
  for ((r = 0; r < ROUNDS; r++)); do
    daemon_start c "$@" || { fail "$label: daemon did not start (round $r)"; return; }
    local pids=()
    for ((w = 0; w < WRITERS; w++)); do
      $RELLOAD write "$BASE_c" "$store" "$label-r$r-w$w" "$WORK/$label-r$r-w$w.ack" 1000000 \
        >"$WORK/$label-r$r-w$w.out" 2>&1 &
      pids+=($!)
    done
    # kill once the load is well under way (bounded: at most 30 s of waiting)
    local i n=0
    for ((i = 0; i < 300; i++)); do
      n=$(cat "$WORK/$label-r$r"-w*.ack 2>/dev/null | wc -l)
      [ "$n" -ge $((200 + r * 50)) ] && break
      sleep 0.1
    done
    kill -9 "$PID_c"
    wait "$PID_c" 2>/dev/null
    for p in "${pids[@]}"; do wait "$p"; done
    echo "$label round $r: killed with $n+ acknowledged writes in flight"
  done
  daemon_start c "$@" || { fail "$label: daemon did not restart after kill -9"; return; }
  for ((r = 0; r < ROUNDS; r++)); do
    for ((w = 0; w < WRITERS; w++)); do
      local out
      out=$($RELLOAD check "$BASE_c" "$store" "$label-r$r-w$w" "$WORK/$label-r$r-w$w.ack")
      local st=$?
      echo "  $label-r$r-w$w: $out"
      local acked lost
      acked=$(echo "$out" | sed -n 's/.*checked: \([0-9]*\).*/\1/p')
      lost=$(echo "$out" | sed -n 's/.*changed: \([0-9]*\).*/\1/p')
      TOTAL_ACKED=$((TOTAL_ACKED + ${acked:-0}))
      TOTAL_LOST=$((TOTAL_LOST + ${lost:-0}))
      CHECKS=$((CHECKS + 1))
      [ $st -eq 0 ] || fail "$label-r$r-w$w: acknowledged writes lost"
    done
  done
  local st=0
  daemon_stop "$PID_c" || st=$?
  check "$label: daemon exits 0 on SIGTERM after the checks" test "$st" -eq 0
}

crash_cycle sqlite-wal statestore --default-store-path "$WORK/wal.db"
check "sqlite-wal: PRAGMA integrity_check is ok" \
  test "$(sqlite3 "$WORK/wal.db" 'PRAGMA integrity_check;')" = ok

C="$WORK/comp-journal"
mkdir -p "$C"
component "$C/s.yaml" journal state.sqlite connectionString "$WORK/journal.db" disableWAL true
crash_cycle sqlite-journal journal --resources-path "$C"
check "sqlite-journal: PRAGMA integrity_check is ok" \
  test "$(sqlite3 "$WORK/journal.db" 'PRAGMA integrity_check;')" = ok

if [ -n "${SS_TEST_POSTGRES_DSN:-}" ]; then
  C="$WORK/comp-pg"
  mkdir -p "$C"
  component "$C/s.yaml" pg state.postgresql connectionString "$SS_TEST_POSTGRES_DSN" \
    tableName "crash_$$"
  crash_cycle postgresql pg --resources-path "$C"
else
  echo "not covered here: postgresql (SS_TEST_POSTGRES_DSN unset)"
fi
if [ -n "${SS_TEST_MYSQL_DSN:-}" ]; then
  C="$WORK/comp-my"
  mkdir -p "$C"
  component "$C/s.yaml" my state.mysql connectionString "$SS_TEST_MYSQL_DSN" tableName "crash_$$"
  crash_cycle mysql my --resources-path "$C"
else
  echo "not covered here: mysql (SS_TEST_MYSQL_DSN unset)"
fi
echo "acknowledged writes checked after kill -9: $TOTAL_ACKED, lost: $TOTAL_LOST"
check "no acknowledged write lost" test "$TOTAL_LOST" -eq 0
check "the load really ran (some writes acknowledged)" test "$TOTAL_ACKED" -gt 0
rel_finish
