#!/usr/bin/env bash
# Hazelcast for the tests (contract: scripts/services/lib.sh): a 2-member cluster of the real
# member from Maven Central (tests/servers/maven/hazelcast), each on 127.0.0.1 and a free port,
# joined by a TCP-IP member list (multicast and auto-detection off, phone-home off).
#   hazelcast.sh start DIR        start both members; writes DIR/hazelcast.env:
#                                   SS_TEST_HAZELCAST_SERVERS  "127.0.0.1:P1,127.0.0.1:P2"
#                                   SS_TEST_HAZELCAST_SCRIPT / _DIR (for the failover test)
#   hazelcast.sh stop DIR         stop both
#   hazelcast.sh kill DIR N       kill -9 member N (1 or 2): the failover test
#   hazelcast.sh restart DIR N    start member N again on its port (it rejoins the cluster)
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib.sh"

cmd=${1:-}
DIR=${2:-}
[ -n "$cmd" ] && [ -n "$DIR" ] || { echo "usage: $0 start|stop|kill|restart DIR [N]" >&2; exit 2; }
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
D="$DIR/hazelcast"

# The member's config: only loopback, a fixed port (no auto-increment), a TCP-IP join naming
# both members, and the `statestore` map with one synchronous backup, so an acknowledged write
# survives losing one member.
write_config() {
  local n=$1 port=$2 p1=$3 p2=$4
  cat >"$D/m$n.xml" <<XML
<?xml version="1.0" encoding="UTF-8"?>
<hazelcast xmlns="http://www.hazelcast.com/schema/config"
           xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
           xsi:schemaLocation="http://www.hazelcast.com/schema/config
           http://www.hazelcast.com/schema/config/hazelcast-config-5.5.xsd">
  <cluster-name>statestore-test</cluster-name>
  <instance-name>m$n</instance-name>
  <properties>
    <property name="hazelcast.phone.home.enabled">false</property>
    <property name="hazelcast.logging.type">jdk</property>
    <property name="hazelcast.socket.bind.any">false</property>
    <property name="hazelcast.heartbeat.interval.seconds">1</property>
    <property name="hazelcast.max.no.heartbeat.seconds">10</property>
  </properties>
  <network>
    <public-address>127.0.0.1:$port</public-address>
    <port auto-increment="false">$port</port>
    <join>
      <auto-detection enabled="false"/>
      <multicast enabled="false"/>
      <tcp-ip enabled="true">
        <member>127.0.0.1:$p1</member>
        <member>127.0.0.1:$p2</member>
      </tcp-ip>
    </join>
    <interfaces enabled="true">
      <interface>127.0.0.1</interface>
    </interfaces>
  </network>
  <map name="default">
    <backup-count>1</backup-count>
  </map>
</hazelcast>
XML
}

# ready PORT: the member answers the client protocol's preamble + a bad frame by closing, which
# says little; a REST/health endpoint is off by default. The member logs "is STARTED".
ready() { grep -q 'is STARTED' "$D/m$1.log" 2>/dev/null; }

launch() {
  local n=$1 CP
  CP=$(maven_classpath hazelcast.sh hazelcast) || exit 1
  nohup java -Xmx256m -Xms64m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
    -Dhazelcast.config="$D/m$n.xml" -Djava.net.preferIPv4Stack=true \
    -cp "$CP" com.hazelcast.core.server.HazelcastMemberStarter >"$D/m$n.log" 2>&1 </dev/null &
  echo $! >"$D/m$n.pid"
}

wait_member() {
  local n=$1
  if ! wait_cmd 90 ready "$n"; then
    echo "hazelcast.sh: member $n not started (see $D/m$n.log)" >&2
    stop_pidfile "$D/m1.pid"
    stop_pidfile "$D/m2.pid"
    exit 1
  fi
}

case "$cmd" in
start)
  stop_pidfile "$D/m1.pid" 2>/dev/null || true
  stop_pidfile "$D/m2.pid" 2>/dev/null || true
  rm -rf "$D"
  mkdir -p "$D"
  maven_classpath hazelcast.sh hazelcast >/dev/null || exit 1
  p1=$(free_port)
  p2=$(free_port)
  while [ "$p2" = "$p1" ]; do p2=$(free_port); done
  echo "$p1" >"$D/port1"
  echo "$p2" >"$D/port2"
  write_config 1 "$p1" "$p1" "$p2"
  write_config 2 "$p2" "$p1" "$p2"
  launch 1
  wait_member 1
  launch 2
  wait_member 2
  # Both members must see each other before tests start.
  if ! wait_cmd 60 grep -q 'Members {size:2' "$D/m1.log"; then
    echo "hazelcast.sh: the members did not form one cluster (see $D/m1.log, $D/m2.log)" >&2
    stop_pidfile "$D/m1.pid"; stop_pidfile "$D/m2.pid"; exit 1
  fi
  {
    echo "export SS_TEST_HAZELCAST_SERVERS=127.0.0.1:$p1,127.0.0.1:$p2"
    echo "export SS_TEST_HAZELCAST_CLUSTER=statestore-test"
    echo "export SS_TEST_HAZELCAST_DIR=$DIR"
    echo "export SS_TEST_HAZELCAST_SCRIPT=$HERE/hazelcast.sh"
  } >"$DIR/hazelcast.env"
  echo "hazelcast.sh: 2 members on 127.0.0.1:$p1 and 127.0.0.1:$p2"
  ;;
stop)
  stop_pidfile "$D/m1.pid"
  stop_pidfile "$D/m2.pid"
  rm -f "$DIR/hazelcast.env"
  ;;
kill)
  n=${3:?member number}
  pid=$(cat "$D/m$n.pid" 2>/dev/null || true)
  [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
  rm -f "$D/m$n.pid"
  ;;
restart)
  n=${3:?member number}
  stop_pidfile "$D/m$n.pid"
  launch "$n"
  wait_member "$n"
  ;;
*)
  echo "usage: $0 start|stop|kill|restart DIR [N]" >&2; exit 2
  ;;
esac
