# Shared helpers for scripts/services/<name>.sh. Sourced, not run.
#
# Contract of every scripts/services/<name>.sh:
#   <name>.sh start DIR   start the server(s) on 127.0.0.1, on free random ports, with all data
#                         under DIR/<name>; wait until ready (bounded); write DIR/<name>.env with
#                         `export SS_TEST_<NAME>_...=...` lines the tests read; exit non-zero with
#                         a message naming the cause if it could not start.
#   <name>.sh stop DIR    stop every process it started, by the PIDs it recorded.
# Servers' stdout/stderr always go to files under DIR (an inherited pipe would hang CI).

# free_port: prints a TCP port on 127.0.0.1 that nothing listens on now.
free_port() {
  python3 - <<'PY'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
PY
}

# wait_port HOST PORT SECONDS: waits until a TCP connect succeeds.
wait_port() {
  local host=$1 port=$2 secs=${3:-30} i
  for ((i = 0; i < secs * 10; i++)); do
    if (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "timed out after ${secs}s waiting for $host:$port" >&2
  return 1
}

# wait_cmd SECONDS CMD...: retries CMD every 0.1 s until it succeeds.
wait_cmd() {
  local secs=$1 i; shift
  for ((i = 0; i < secs * 10; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  echo "timed out after ${secs}s waiting for: $*" >&2
  return 1
}

# pid_alive PID: true while PID runs and is not a zombie.
pid_alive() {
  local pid=$1 state
  [ -r "/proc/$pid/stat" ] || return 1
  state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || return 1
  [ "$state" != "Z" ]
}

# stop_pidfile FILE: TERM, wait up to 10 s, then KILL; removes FILE.
stop_pidfile() {
  local f=$1 pid i
  [ -f "$f" ] || return 0
  pid=$(head -n1 "$f")
  if [ -n "$pid" ] && pid_alive "$pid"; then
    kill "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do pid_alive "$pid" || break; sleep 0.1; done
    pid_alive "$pid" && kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$f"
}

# ensure_npm_emulators WHO LOGDIR: dynalite and Azurite (pinned) installed in one npm prefix,
# ${SS_NPM_CACHE:-/var/tmp/statestore-npm}; prints that prefix. Both go in one install, since
# installing one alone would prune the other, under a lock, so parallel starts do not race.
NPM_EMULATORS="dynalite@4.0.0 azurite@3.35.0"
ensure_npm_emulators() {
  local who=$1 log=$2 npm=${SS_NPM_CACHE:-/var/tmp/statestore-npm} pkg name version
  command -v node >/dev/null || { echo "$who: node not installed" >&2; return 1; }
  mkdir -p "$npm" "$log"
  for pkg in $NPM_EMULATORS; do
    name=${pkg%@*} version=${pkg##*@}
    if ! grep -qs "\"version\": \"$version\"" "$npm/node_modules/$name/package.json"; then
      # shellcheck disable=SC2086
      (flock 9; npm install --prefix "$npm" --no-audit --no-fund $NPM_EMULATORS \
         >"$log/npm.log" 2>&1) 9>"$npm.lock" ||
        { echo "$who: npm install $NPM_EMULATORS failed (see $log/npm.log)" >&2; return 1; }
      break
    fi
  done
  echo "$npm"
}
