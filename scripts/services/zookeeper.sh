#!/usr/bin/env bash
# Standalone ZooKeeper for the tests (contract: scripts/services/lib.sh): the server from Maven
# Central (tests/servers/maven/zookeeper, the same version on Debian 12 and 13), run with plain
# java (no JMX port, logs under DIR).
#   zookeeper.sh start DIR     start on a free port; writes DIR/zookeeper.env (SS_TEST_ZOOKEEPER_SERVERS)
#   zookeeper.sh stop DIR      stop it
#   zookeeper.sh restart DIR   stop and start again on the same port and data (the reconnect test)
# TTL nodes need zookeeper.extendedTypesEnabled=true; the container reaper runs every second
# (default 60 s) so expired TTL nodes disappear promptly; jute.maxbuffer is raised to 4 MiB so
# the driver's default 1 MiB values fit in one packet.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib.sh"

cmd=${1:-}
DIR=${2:-}
[ -n "$cmd" ] && [ -n "$DIR" ] || { echo "usage: $0 start|stop|restart|wipe DIR" >&2; exit 2; }
D="$DIR/zookeeper"

# Bounded: a server still starting can accept the connection and never answer. `srvr` names a
# Mode only once the database is loaded and the server serves (`ruok` answers imok before that,
# even when loading the database failed).
ruok() { printf srvr | timeout 3 nc -N -w 2 127.0.0.1 "$1" 2>/dev/null | grep -q '^Mode: '; }

launch() {
  local port=$1 CP
  CP=$(maven_classpath zookeeper.sh zookeeper) || exit 1
  mkdir -p "$D/data"
  cat >"$D/zoo.cfg" <<CFG
tickTime=2000
dataDir=$D/data
clientPort=$port
clientPortAddress=127.0.0.1
maxClientCnxns=0
admin.enableServer=false
4lw.commands.whitelist=ruok,stat,srvr,mntr,conf
CFG
  nohup java -Xmx256m -Dzookeeper.extendedTypesEnabled=true -Dznode.container.checkIntervalMs=1000 \
    -Djute.maxbuffer=4194304 -Dzookeeper.jmx.log4j.disable=true -cp "$CP" \
    org.apache.zookeeper.server.ZooKeeperServerMain "$D/zoo.cfg" >>"$D/zk.log" 2>&1 </dev/null &
  echo $! >"$D/zk.pid"
  if ! wait_cmd 30 ruok "$port"; then
    echo "zookeeper.sh: zookeeper on port $port not ready (see $D/zk.log)" >&2
    stop_pidfile "$D/zk.pid"
    exit 1
  fi
  echo "$port" >"$D/port"
}

case "$cmd" in
start)
  command -v nc >/dev/null || { echo "zookeeper.sh: nc missing (apt netcat-openbsd)" >&2; exit 1; }
  rm -rf "$D"
  launch "$(free_port)"
  printf 'export SS_TEST_ZOOKEEPER_SERVERS=127.0.0.1:%s\nexport SS_TEST_ZOOKEEPER_DIR=%s\n' \
    "$(cat "$D/port")" "$DIR" >"$DIR/zookeeper.env"
  echo "zookeeper.sh: zookeeper ready on 127.0.0.1:$(cat "$D/port")"
  ;;
stop)
  stop_pidfile "$D/zk.pid"
  ;;
restart | wipe)
  [ -f "$D/port" ] || { echo "zookeeper.sh: not started in $DIR" >&2; exit 1; }
  stop_pidfile "$D/zk.pid"
  [ "$cmd" = wipe ] && rm -rf "$D/data"
  launch "$(cat "$D/port")"
  ;;
*)
  echo "usage: $0 start|stop|restart|wipe DIR" >&2; exit 2
  ;;
esac
