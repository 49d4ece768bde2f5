#!/usr/bin/env bash
# memcached.sh start|stop DIR — one memcached on 127.0.0.1 (contract: scripts/services/lib.sh).
# Writes DIR/memcached.env with SS_TEST_MEMCACHED_HOSTS (host:port) and, for tests that restart
# the server, SS_TEST_MEMCACHED_PIDFILE and SS_TEST_MEMCACHED_CMD (the exact start command).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

cmd=${1:-}
dir=${2:-}
if [ -z "$cmd" ] || [ -z "$dir" ]; then
  echo "usage: $0 start|stop DIR" >&2
  exit 2
fi
mkdir -p "$dir/memcached"
dir=$(cd "$dir" && pwd)
d="$dir/memcached"

case "$cmd" in
start)
  if ! command -v memcached >/dev/null 2>&1; then
    echo "memcached.sh: memcached is not installed (apt-get install memcached)" >&2
    exit 1
  fi
  stop_pidfile "$d/memcached.pid"
  port=$(free_port)
  # -U 0: no UDP. -u: memcached refuses to run as root without naming a user.
  args=(-d -l 127.0.0.1 -p "$port" -U 0 -m 64 -P "$d/memcached.pid")
  if [ "$(id -u)" -eq 0 ]; then args+=(-u root); fi
  memcached "${args[@]}" >"$d/memcached.log" 2>&1 </dev/null
  if ! wait_cmd 10 bash -c "printf 'version\r\n' | nc -N 127.0.0.1 $port | grep -q VERSION"; then
    echo "memcached.sh: memcached did not answer on 127.0.0.1:$port; log: $d/memcached.log" >&2
    stop_pidfile "$d/memcached.pid"
    exit 1
  fi
  {
    echo "export SS_TEST_MEMCACHED_HOSTS=127.0.0.1:$port"
    echo "export SS_TEST_MEMCACHED_PIDFILE=$d/memcached.pid"
    printf 'export SS_TEST_MEMCACHED_CMD=%q\n' "memcached ${args[*]}"
  } >"$dir/memcached.env"
  echo "memcached.sh: memcached on 127.0.0.1:$port"
  ;;
stop)
  stop_pidfile "$d/memcached.pid"
  rm -f "$dir/memcached.env"
  ;;
*)
  echo "usage: $0 start|stop DIR" >&2
  exit 2
  ;;
esac
