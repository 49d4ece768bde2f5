#!/usr/bin/env bash
# shellcheck disable=SC1091,SC2034,SC2154  # PORT_x, PID_x, LOG_x, BASE_x come from daemon_start
# Real-server faults under load through the daemon: for Redis, PostgreSQL and etcd (each our own
# instance, started through scripts/services/<name>.sh into this test's temp dir), a client
# keeps saving and reading while the server is SIGSTOPped (then SIGCONTed) and later killed -9
# (then restarted on the same port and data). Checks: every request is answered within a bound
# (no hang), failures are 500 whose message names the cause (timed out / unavailable), and
# service comes back by itself after SIGCONT and after the restart. Runs serially (RUN_SERIAL):
# it stops servers, but only its own.
# usage: test_server_faults.sh STATESTORED [redis|postgresql|etcd]...
set -uo pipefail
STATESTORED=$1
shift
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ss-rel-faults.XXXXXX")
. "$(dirname "$0")/rel_lib.sh"
trap rel_cleanup EXIT
PHASE=${REL_FAULT_PHASE_S:-5} # seconds per phase
BOUND=${REL_FAULT_BOUND_S:-3} # no request may take longer: driver timeouts below are 1 s
export RELLOAD_TIMEOUT=$((BOUND + 10))
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(redis postgresql etcd)
SURVIVED=0
now() { date +%s.%N; }

# every process of a server: the recorded pid and its children (PostgreSQL's backends)
server_pids() {
  local p
  for p in "$@"; do
    echo "$p"
    pgrep -P "$p" 2>/dev/null || true
  done
}

# fault_cycle NAME STORE MAINPID_FN RESTART_FN
fault_cycle() {
  local name=$1 store=$2 pidfn=$3 restartfn=$4
  local out="$WORK/$name.load"
  $RELLOAD load "$BASE_f" "$store" $((PHASE * 5)) "$out" &
  local lp=$! t_start t_stop t_cont t_kill t_restart t_end pids
  t_start=$(now)
  sleep "$PHASE"
  pids=$(server_pids "$($pidfn)")
  # shellcheck disable=SC2086
  kill -STOP $pids
  t_stop=$(now)
  sleep "$PHASE"
  # shellcheck disable=SC2086
  kill -CONT $pids
  t_cont=$(now)
  sleep "$PHASE"
  pids=$(server_pids "$($pidfn)")
  # shellcheck disable=SC2086
  kill -9 $pids
  t_kill=$(now)
  sleep "$PHASE"
  t_restart=$(now)
  $restartfn || fail "$name: could not restart the server"
  wait "$lp"
  t_end=$(now)
  echo "$name:"
  if $RELLOAD analyze "$out" start="$t_start" stop="$t_stop" cont="$t_cont" kill="$t_kill" \
    restart="$t_restart" end="$t_end" "$BOUND"; then
    echo "ok: $name: SIGSTOP/SIGCONT and kill -9/restart survived"
    SURVIVED=$((SURVIVED + 2))
  else
    fail "$name: fault handling (see above)"
  fi
  CHECKS=$((CHECKS + 1))
}

C="$WORK/components"
mkdir -p "$C"
run=()
for t in "${targets[@]}"; do
  case $t in
  redis)
    command -v redis-server >/dev/null || { echo "not covered: redis (redis-server missing)"; continue; }
    service_start redis || { fail "redis did not start"; continue; }
    component "$C/redis.yaml" redis state.redis redisHost "$SS_TEST_REDIS_ADDR" dialTimeout 1s \
      readTimeout 1s
    redis_pid() { head -n1 "$WORK/svc/redis/redis.pid"; }
    redis_restart() {
      bash "$SERVICES/redis.sh" restart "$WORK/svc" >/dev/null 2>&1
    }
    run+=("redis redis redis_pid redis_restart")
    ;;
  postgresql)
    ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || { echo "not covered: postgresql"; continue; }
    service_start postgresql || { fail "postgresql did not start"; continue; }
    component "$C/pg.yaml" pg state.postgresql connectionString "$SS_TEST_POSTGRES_DSN" timeout 1s
    pg_pid() { head -n1 "$WORK/svc/postgresql/data/postmaster.pid"; }
    pg_restart() {
      rm -f "$WORK/svc/postgresql/data/postmaster.pid"
      bash "$SERVICES/postgresql.sh" resume "$WORK/svc" >/dev/null 2>&1
    }
    run+=("postgresql pg pg_pid pg_restart")
    ;;
  etcd)
    command -v etcd >/dev/null || { echo "not covered: etcd (etcd missing)"; continue; }
    service_start etcd || { fail "etcd did not start"; continue; }
    component "$C/etcd.yaml" etcd state.etcd endpoints "$SS_TEST_ETCD_ENDPOINTS" timeout 1s
    etcd_pid() { head -n1 "$WORK/svc/etcd/etcd.pid"; }
    # same command line, port and data directory as before the kill
    ETCD_CMDLINE="$WORK/etcd.cmdline"
    tr '\0' '\n' <"/proc/$(etcd_pid)/cmdline" >"$ETCD_CMDLINE"
    etcd_restart() {
      local args=()
      mapfile -t args <"$ETCD_CMDLINE"
      nohup "${args[@]}" >"$WORK/etcd-restarted.log" 2>&1 </dev/null &
      echo $! >"$WORK/svc/etcd/etcd.pid"
      local port=${SS_TEST_ETCD_ENDPOINTS##*:}
      wait_port 127.0.0.1 "$port" 20
    }
    run+=("etcd etcd etcd_pid etcd_restart")
    ;;
  *) echo "unknown target $t" >&2; exit 2 ;;
  esac
done
. "$SERVICES/lib.sh"
[ ${#run[@]} -gt 0 ] || skip "no server to fault (none of redis-server, postgresql, etcd installed)"
daemon_start f --resources-path "$C" || { FAILS=1; rel_finish; exit 1; }
for r in "${run[@]}"; do
  # shellcheck disable=SC2086
  fault_cycle $r
done
echo "faults survived: $SURVIVED"
st=0
daemon_stop "$PID_f" || st=$?
check "daemon exits 0 on SIGTERM after the faults" test "$st" -eq 0
[ "$FAILS" -eq 0 ] || tail -n 30 "$LOG_f"
rel_finish
