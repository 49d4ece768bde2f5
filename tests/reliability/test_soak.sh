#!/usr/bin/env bash
# shellcheck disable=SC1091,SC2034,SC2154  # PORT_x, PID_x, LOG_x, BASE_x come from daemon_start
# Soak: a fixed number of mixed requests (save, get, delete, bulk get, transaction; keep-alive
# and new connections; 8 clients) against the daemon on the embedded SQLite store and on Redis
# (SS_TEST_REDIS_ADDR), with the daemon's RSS read from /proc after a warm-up and after each
# quarter of the run: it must stay flat (growth at most REL_SOAK_RSS_SLACK_KB, default 8 MiB,
# plus 10 %). REL_SOAK_REQUESTS per store (default 40000: 30-60 s for both on 2 CPUs).
# usage: test_soak.sh STATESTORED
set -uo pipefail
STATESTORED=$1
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ss-rel-soak.XXXXXX")
. "$(dirname "$0")/rel_lib.sh"
trap rel_cleanup EXIT
N=${REL_SOAK_REQUESTS:-40000}
SLACK=${REL_SOAK_RSS_SLACK_KB:-8192}
CLIENTS=8
rss() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

soak() { # soak LABEL STORE DAEMON-ARGS...
  local label=$1 store=$2; shift 2
  daemon_start s --threads 4 "$@" || { fail "$label: daemon did not start"; return; }
  local warm=$((N / 5)) q=$((N / 4)) i r0 r
  $RELLOAD mix "$BASE_s" "$store" "$warm" "$CLIENTS" >"$WORK/$label-warm.out" ||
    { fail "$label: warm-up: $(tail -n 3 "$WORK/$label-warm.out")"; }
  r0=$(rss "$PID_s")
  local line="$label: RSS after warm-up ($warm requests) ${r0} KB; after each quarter of $N:"
  for i in 1 2 3 4; do
    $RELLOAD mix "$BASE_s" "$store" "$q" "$CLIENTS" >"$WORK/$label-$i.out" ||
      fail "$label: quarter $i: $(tail -n 3 "$WORK/$label-$i.out")"
    r=$(rss "$PID_s")
    line="$line $r"
  done
  local limit=$((r0 + r0 / 10 + SLACK))
  echo "$line KB (limit $limit KB)"
  check "$label: RSS flat after warm-up (${r0} -> ${r} KB, limit $limit KB)" test "$r" -le "$limit"
  local st=0
  daemon_stop "$PID_s" || st=$?
  check "$label: daemon exits 0 on SIGTERM after the soak" test "$st" -eq 0
}

soak sqlite statestore --default-store-path "$WORK/soak.db"
if [ -n "${SS_TEST_REDIS_ADDR:-}" ]; then
  mkdir -p "$WORK/c"
  component "$WORK/c/r.yaml" redis state.redis redisHost "$SS_TEST_REDIS_ADDR"
  soak redis redis --resources-path "$WORK/c"
else
  echo "not covered here: redis (SS_TEST_REDIS_ADDR unset)"
fi
rel_finish
