#!/usr/bin/env bash
# Redis with Sentinel for the tests: 1 master, 1 replica, 1 sentinel (contract: scripts/services/lib.sh).
#   redis-sentinel.sh start DIR   writes DIR/redis-sentinel.env (SS_TEST_REDIS_SENTINEL_ADDR,
#                                 SS_TEST_REDIS_SENTINEL_MASTER)
#   redis-sentinel.sh stop DIR
# With one sentinel the quorum is 1, so `SENTINEL FAILOVER <master>` works on demand.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib.sh"

cmd=${1:-}
DIR=${2:-}
[ -n "$cmd" ] && [ -n "$DIR" ] || { echo "usage: $0 start|stop DIR" >&2; exit 2; }
D="$DIR/redis-sentinel"
MASTER=ssmaster

start_redis() { # name port [extra args...]
  local name=$1 port=$2; shift 2
  mkdir -p "$D/$name"
  redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
    --pidfile "$D/$name/redis.pid" --logfile "$D/$name/redis.log" --dir "$D/$name" "$@" \
    >/dev/null 2>&1 </dev/null || { echo "redis-sentinel.sh: $name failed (see $D/$name/redis.log)" >&2; exit 1; }
  wait_cmd 10 redis-cli -h 127.0.0.1 -p "$port" ping ||
    { echo "redis-sentinel.sh: $name on $port not ready" >&2; exit 1; }
  wait_cmd 5 test -s "$D/$name/redis.pid" || true
}

case "$cmd" in
start)
  command -v redis-server >/dev/null || { echo "redis-sentinel.sh: redis-server not installed" >&2; exit 1; }
  mkdir -p "$D/sentinel"
  mport=$(free_port)
  rport=$(free_port)
  while [ "$rport" = "$mport" ]; do rport=$(free_port); done
  sport=$(free_port)
  while [ "$sport" = "$mport" ] || [ "$sport" = "$rport" ]; do sport=$(free_port); done
  start_redis master "$mport"
  start_redis replica "$rport" --replicaof 127.0.0.1 "$mport"
  wait_cmd 20 sh -c "redis-cli -p $rport info replication | grep -q 'master_link_status:up'" ||
    { echo "redis-sentinel.sh: replica never synced" >&2; exit 1; }
  # Sentinel rewrites its config file, so it gets its own copy.
  cat >"$D/sentinel/sentinel.conf" <<CONF
port $sport
bind 127.0.0.1
daemonize yes
pidfile $D/sentinel/sentinel.pid
logfile $D/sentinel/sentinel.log
dir $D/sentinel
sentinel monitor $MASTER 127.0.0.1 $mport 1
sentinel down-after-milliseconds $MASTER 2000
sentinel failover-timeout $MASTER 10000
sentinel parallel-syncs $MASTER 1
CONF
  redis-server "$D/sentinel/sentinel.conf" --sentinel >/dev/null 2>&1 </dev/null ||
    { echo "redis-sentinel.sh: sentinel failed (see $D/sentinel/sentinel.log)" >&2; exit 1; }
  wait_cmd 10 redis-cli -p "$sport" ping || { echo "redis-sentinel.sh: sentinel not ready" >&2; exit 1; }
  wait_cmd 5 test -s "$D/sentinel/sentinel.pid" || true
  # Ready when the sentinel sees the replica connected and in sync (a failover needs one).
  wait_cmd 30 sh -c "redis-cli -p $sport sentinel replicas $MASTER | paste - - |
    grep -q '^flags.slave\$' && redis-cli -p $sport sentinel replicas $MASTER | paste - - |
    grep -q '^master-link-status.ok'" ||
    { echo "redis-sentinel.sh: sentinel never saw the replica in sync" >&2; exit 1; }
  printf 'export SS_TEST_REDIS_SENTINEL_ADDR=127.0.0.1:%s\nexport SS_TEST_REDIS_SENTINEL_MASTER=%s\n' \
    "$sport" "$MASTER" >"$DIR/redis-sentinel.env"
  echo "redis-sentinel.sh: master 127.0.0.1:$mport, replica :$rport, sentinel :$sport ($MASTER)"
  ;;
stop)
  stop_pidfile "$D/sentinel/sentinel.pid"
  stop_pidfile "$D/replica/redis.pid"
  stop_pidfile "$D/master/redis.pid"
  ;;
*)
  echo "usage: $0 start|stop DIR" >&2; exit 2
  ;;
esac
