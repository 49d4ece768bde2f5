# rel_lib.sh — shared helpers of the reliability tests. Sourced, not run.
# shellcheck shell=bash disable=SC2034
# Needs: $STATESTORED (the daemon), $WORK (this test's temp dir, removed by rel_cleanup).

HERE_REL=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SERVICES=$(cd "$HERE_REL/../../scripts/services" && pwd)
RELLOAD="python3 $HERE_REL/relload.py"
FAILS=0
CHECKS=0
DAEMON_PIDS=()
SERVICES_STARTED=()

fail() { echo "FAIL: $*" >&2; FAILS=$((FAILS + 1)); }
check() { # check DESCRIPTION CMD...
  local what=$1; shift
  CHECKS=$((CHECKS + 1))
  if "$@"; then echo "ok: $what"; else fail "$what"; fi
}
skip() { echo "SKIP: $*"; rel_cleanup; exit 77; }

# daemon_start NAME ARGS...: starts statestored on a free port (port 0, read from its log);
# sets PORT_<NAME>, PID_<NAME>, LOG_<NAME>, BASE_<NAME>.
daemon_start() {
  local name=$1; shift
  # a new file per start: the parent could otherwise read the previous daemon's port before
  # the child's redirection truncates the file
  DAEMON_STARTS=$((${DAEMON_STARTS:-0} + 1))
  local log="$WORK/daemon-$name-$DAEMON_STARTS.log"
  "$STATESTORED" --dapr-http-port 0 "$@" >"$log" 2>&1 </dev/null &
  local pid=$! port="" i
  DAEMON_PIDS+=("$pid")
  for ((i = 0; i < 200; i++)); do
    port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$log" | head -n1)
    [ -n "$port" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if [ -z "$port" ]; then
    echo "statestored did not start:" >&2; cat "$log" >&2
    return 1
  fi
  printf -v "PORT_$name" '%s' "$port"
  printf -v "PID_$name" '%s' "$pid"
  printf -v "LOG_$name" '%s' "$log"
  printf -v "BASE_$name" 'http://127.0.0.1:%s' "$port"
}

# daemon_stop PID: SIGTERM, bounded wait; returns the exit status (KILL after 30 s).
daemon_stop() {
  local pid=$1 i
  kill "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 300; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid"; fi
  wait "$pid"
}

# service_start NAME: our own instance of scripts/services/NAME.sh under $WORK; sources its env.
service_start() {
  local name=$1
  # servers that drop root (PostgreSQL runs as postgres) must reach their data under $WORK
  [ "$(id -u)" -ne 0 ] || chmod a+x "$WORK"
  bash "$SERVICES/$name.sh" start "$WORK/svc" >"$WORK/svc-$name.out" 2>&1 || {
    cat "$WORK/svc-$name.out" >&2
    return 1
  }
  SERVICES_STARTED+=("$name")
  # shellcheck disable=SC1090
  . "$WORK/svc/$name.env"
}

rel_cleanup() {
  local p s
  for p in "${DAEMON_PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  for p in "${DAEMON_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  DAEMON_PIDS=()
  for s in "${SERVICES_STARTED[@]}"; do
    # a SIGSTOPped server must be able to take its SIGTERM
    for p in "$WORK"/svc/"$s"/*.pid; do [ -f "$p" ] && kill -CONT "$(head -n1 "$p")" 2>/dev/null; done
    bash "$SERVICES/$s.sh" stop "$WORK/svc" >/dev/null 2>&1 || true
  done
  SERVICES_STARTED=()
  [ -n "${WORK:-}" ] && [ -z "${REL_KEEP:-}" ] && rm -rf "$WORK"
  return 0
}

rel_finish() {
  echo "$(basename "$0"): $CHECKS checks, $FAILS failed"
  rel_cleanup
  [ "$FAILS" -eq 0 ]
}

# component FILE NAME TYPE [PROP VALUE]...: a Dapr component file.
component() {
  local f=$1 name=$2 type=$3; shift 3
  {
    printf 'apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: %s\nspec:\n' "$name"
    printf '  type: %s\n  version: v1\n  metadata:\n' "$type"
    while [ $# -ge 2 ]; do
      printf '  - name: %s\n    value: "%s"\n' "$1" "$2"
      shift 2
    done
  } >"$f"
}
