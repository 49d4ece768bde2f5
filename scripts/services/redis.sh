#!/usr/bin/env bash
# Standalone Redis for the tests (contract: scripts/services/lib.sh).
#   redis.sh start DIR     start on a free port; writes DIR/redis.env
#   redis.sh stop DIR      stop it
#   redis.sh restart DIR   stop and start again on the same port (the driver's reconnect test)
#   redis.sh kill DIR      stop without starting again (the driver's outage test)
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib.sh"

cmd=${1:-}
DIR=${2:-}
[ -n "$cmd" ] && [ -n "$DIR" ] || { echo "usage: $0 start|stop|restart|kill DIR" >&2; exit 2; }
D="$DIR/redis"

launch() {
  local port=$1
  mkdir -p "$D"
  command -v redis-server >/dev/null || { echo "redis.sh: redis-server not installed" >&2; exit 1; }
  redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
    --pidfile "$D/redis.pid" --logfile "$D/redis.log" --dir "$D" >/dev/null 2>&1 </dev/null ||
    { echo "redis.sh: redis-server failed to start (see $D/redis.log)" >&2; exit 1; }
  if ! wait_cmd 10 redis-cli -h 127.0.0.1 -p "$port" ping; then
    echo "redis.sh: redis on port $port not ready (see $D/redis.log)" >&2; exit 1
  fi
  # The pid file appears a moment after the daemon forks.
  wait_cmd 5 test -s "$D/redis.pid" || true
  echo "$port" >"$D/port"
}

case "$cmd" in
start)
  port=$(free_port)
  launch "$port"
  printf 'export SS_TEST_REDIS_ADDR=127.0.0.1:%s\nexport SS_TEST_REDIS_DIR=%s\n' "$port" "$DIR" >"$DIR/redis.env"
  echo "redis.sh: redis ready on 127.0.0.1:$port"
  ;;
stop | kill)
  stop_pidfile "$D/redis.pid"
  ;;
restart)
  [ -f "$D/port" ] || { echo "redis.sh: not started in $DIR" >&2; exit 1; }
  port=$(cat "$D/port")
  stop_pidfile "$D/redis.pid"
  launch "$port"
  ;;
*)
  echo "usage: $0 start|stop|restart|kill DIR" >&2; exit 2
  ;;
esac
