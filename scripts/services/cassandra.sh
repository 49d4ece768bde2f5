#!/usr/bin/env bash
# Single-node Apache Cassandra 5.0 for the tests (contract: scripts/services/lib.sh).
#   cassandra.sh start DIR   start on free ports; writes DIR/cassandra.env
#                            (SS_TEST_CASSANDRA_HOSTS, _PORT, _USER, _PASSWORD)
#   cassandra.sh stop DIR    stop it
#
# The server is org.apache.cassandra:cassandra-all from the pinned Maven module
# tests/servers/maven/cassandra, run in the foreground of its own JVM. Authentication is always
# on (PasswordAuthenticator; the superuser cassandra gets a random password at start), so every
# run of the suite covers the SASL PLAIN login; one node serves the whole run (start-up 12-100 s).
#
# Cassandra 5.0 runs on Java 11 or 17 only. The JVM: $SS_CASSANDRA_JAVA_HOME if set, else the
# first /usr/lib/jvm/*17* or *11* with bin/java, else `java` when it is 11 or 17.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib.sh"

cmd=${1:-}
DIR=${2:-}
[ -n "$cmd" ] && [ -n "$DIR" ] || { echo "usage: $0 start|stop DIR" >&2; exit 2; }
D="$DIR/cassandra"

java_major() { # JAVA: prints the feature release (11, 17, 21, ...)
  "$1" -XshowSettings:properties -version 2>&1 |
    awk -F'= ' '/java.specification.version/ {print $2; exit}'
}

find_java() {
  local j v
  if [ -n "${SS_CASSANDRA_JAVA_HOME:-}" ]; then
    j=$SS_CASSANDRA_JAVA_HOME/bin/java
    [ -x "$j" ] || { echo "cassandra.sh: SS_CASSANDRA_JAVA_HOME=$SS_CASSANDRA_JAVA_HOME has no bin/java" >&2; return 1; }
    echo "$j"; return 0
  fi
  for j in /usr/lib/jvm/*17*/bin/java /usr/lib/jvm/*11*/bin/java; do
    [ -x "$j" ] && { echo "$j"; return 0; }
  done
  if command -v java >/dev/null; then
    v=$(java_major java)
    case "$v" in 11 | 17) command -v java; return 0 ;; esac
    echo "cassandra.sh: Cassandra 5.0 needs Java 11 or 17; \`java\` is $v and no /usr/lib/jvm/*17* or *11* exists (set SS_CASSANDRA_JAVA_HOME or install openjdk-17-jre-headless)" >&2
    return 1
  fi
  echo "cassandra.sh: no Java found; Cassandra 5.0 needs Java 11 or 17 (install openjdk-17-jre-headless)" >&2
  return 1
}

# cql_ready PORT USER PASSWORD [QUERY]: a STARTUP (and, with a USER, the SASL PLAIN login)
# must succeed, not just the TCP connect: the default superuser appears a moment after the
# native transport opens. With a QUERY, it must succeed too.
cql_ready() {
  python3 - "$@" <<'PY'
import socket, struct, sys
port, user, pw = int(sys.argv[1]), sys.argv[2].encode(), sys.argv[3].encode()
query = sys.argv[4].encode() if len(sys.argv) > 4 else None
s = socket.create_connection(("127.0.0.1", port), timeout=10)
def frame(op, body):
    s.sendall(struct.pack(">BBhBi", 4, 0, 0, op, len(body)) + body)
    hdr = b""
    while len(hdr) < 9:
        c = s.recv(9 - len(hdr)); hdr += c
        if not c: sys.exit(1)
    n = struct.unpack(">i", hdr[5:9])[0]; body = b""
    while len(body) < n:
        c = s.recv(n - len(body)); body += c
        if not c: sys.exit(1)
    return hdr[4], body
def string(v): return struct.pack(">H", len(v)) + v
op, _ = frame(1, struct.pack(">H", 1) + string(b"CQL_VERSION") + string(b"3.0.0"))
if op == 3:
    if not user: sys.exit(1)
    tok = b"\0" + user + b"\0" + pw
    op, _ = frame(15, struct.pack(">i", len(tok)) + tok)
    if op != 16: sys.exit(1)
elif op != 2 or user:
    sys.exit(1)
if query:
    op, body = frame(7, struct.pack(">i", len(query)) + query + struct.pack(">HB", 1, 0))
    if op != 8:
        sys.stderr.write(body[6:].decode(errors="replace") + "\n"); sys.exit(1)
PY
}

case "$cmd" in
start)
  java=$(find_java)
  cp=$(maven_classpath cassandra.sh cassandra)
  jamm=$(tr ':' '\n' <<<"$cp" | grep '/jamm-[^/]*\.jar$' | head -n1)
  [ -n "$jamm" ] || { echo "cassandra.sh: jamm agent not on the cassandra classpath" >&2; exit 1; }
  mkdir -p "$D"
  rm -rf "$D/data" "$D/logs"
  mkdir -p "$D/data" "$D/logs"
  nport=$(free_port)
  sport=$(free_port)
  while [ "$sport" = "$nport" ]; do sport=$(free_port); done
  # A small single node: one token, periodic commit log, few threads, no hints, no
  # auto-snapshots of dropped tables (tests drop nothing, but it keeps DIR small).
  cat >"$D/cassandra.yaml" <<EOF
cluster_name: ss-test
num_tokens: 1
initial_token: 0
partitioner: org.apache.cassandra.dht.Murmur3Partitioner
data_file_directories: [$D/data/data]
commitlog_directory: $D/data/commitlog
saved_caches_directory: $D/data/saved_caches
hints_directory: $D/data/hints
cdc_raw_directory: $D/data/cdc_raw
commitlog_sync: periodic
commitlog_sync_period: 10000ms
commitlog_segment_size: 8MiB
seed_provider:
  - class_name: org.apache.cassandra.locator.SimpleSeedProvider
    parameters:
      - seeds: "127.0.0.1:$sport"
listen_address: 127.0.0.1
rpc_address: 127.0.0.1
storage_port: $sport
native_transport_port: $nport
start_native_transport: true
endpoint_snitch: SimpleSnitch
authenticator: PasswordAuthenticator
authorizer: CassandraAuthorizer
role_manager: CassandraRoleManager
hinted_handoff_enabled: false
auto_snapshot: false
snapshot_before_compaction: false
concurrent_reads: 4
concurrent_writes: 4
concurrent_counter_writes: 2
concurrent_compactors: 1
memtable_heap_space: 64MiB
memtable_offheap_space: 64MiB
key_cache_size: 8MiB
native_transport_max_threads: 32
dynamic_snitch: false
EOF
  cat >"$D/logback.xml" <<EOF
<configuration>
  <appender name="FILE" class="ch.qos.logback.core.FileAppender">
    <file>$D/logs/system.log</file>
    <encoder><pattern>%-5level [%thread] %date{ISO8601} %F:%L - %msg%n</pattern></encoder>
  </appender>
  <root level="INFO"><appender-ref ref="FILE"/></root>
</configuration>
EOF
  # The --add-exports/--add-opens flags are those of Cassandra's conf/jvm17-server.options
  # (Java 11 accepts them too). No JMX port is opened: cassandra.jmx.local.port is not set.
  nohup "$java" -Xms256m -Xmx1g -Xss512k -XX:ActiveProcessorCount=2 \
    -XX:CICompilerCount=2 -XX:+UseSerialGC -XX:+ExitOnOutOfMemoryError \
    -javaagent:"$jamm" -Djdk.attach.allowAttachSelf=true \
    --add-exports java.base/jdk.internal.misc=ALL-UNNAMED \
    --add-exports java.management.rmi/com.sun.jmx.remote.internal.rmi=ALL-UNNAMED \
    --add-exports java.rmi/sun.rmi.registry=ALL-UNNAMED \
    --add-exports java.rmi/sun.rmi.server=ALL-UNNAMED \
    --add-exports java.sql/java.sql=ALL-UNNAMED \
    --add-exports java.base/java.lang.ref=ALL-UNNAMED \
    --add-exports jdk.unsupported/sun.misc=ALL-UNNAMED \
    --add-exports jdk.compiler/com.sun.tools.javac.file=ALL-UNNAMED \
    --add-exports jdk.attach/sun.tools.attach=ALL-UNNAMED \
    --add-opens java.base/java.lang.module=ALL-UNNAMED \
    --add-opens java.base/jdk.internal.loader=ALL-UNNAMED \
    --add-opens java.base/jdk.internal.ref=ALL-UNNAMED \
    --add-opens java.base/jdk.internal.reflect=ALL-UNNAMED \
    --add-opens java.base/jdk.internal.math=ALL-UNNAMED \
    --add-opens java.base/jdk.internal.module=ALL-UNNAMED \
    --add-opens java.base/jdk.internal.util.jar=ALL-UNNAMED \
    --add-opens jdk.management/com.sun.management.internal=ALL-UNNAMED \
    --add-opens java.base/sun.nio.ch=ALL-UNNAMED \
    --add-opens java.base/java.io=ALL-UNNAMED \
    --add-opens java.base/java.lang.reflect=ALL-UNNAMED \
    --add-opens jdk.compiler/com.sun.tools.javac=ALL-UNNAMED \
    --add-opens java.base/java.lang=ALL-UNNAMED \
    --add-opens java.base/java.util=ALL-UNNAMED \
    -Dio.netty.tryReflectionSetAccessible=true \
    -Dcassandra.config="file://$D/cassandra.yaml" -Dcassandra.storagedir="$D/data" \
    -Dcassandra.logdir="$D/logs" -Dlogback.configurationFile="$D/logback.xml" \
    -Dcassandra-foreground=yes -Dcassandra.skip_wait_for_gossip_to_settle=0 \
    -Dcassandra.ring_delay_ms=0 -Dcassandra.superuser_setup_delay_ms=0 \
    -Dcassandra.native.epoll.enabled=true -Djava.io.tmpdir="$D/data" \
    -cp "$cp" org.apache.cassandra.service.CassandraDaemon >"$D/stdout.log" 2>&1 </dev/null &
  echo $! >"$D/cassandra.pid"
  t0=$(date +%s)
  ok=0
  # 300 s bound: start-up takes about 12 s on 2 idle cores, 100 s when they are heavily shared.
  for ((i = 0; i < 3000; i++)); do
    pid_alive "$(cat "$D/cassandra.pid")" || break
    cql_ready "$nport" cassandra cassandra >/dev/null 2>&1 && { ok=1; break; }
    sleep 0.1
  done
  if [ "$ok" != 1 ]; then
    echo "cassandra.sh: Cassandra on port $nport not ready (see $D/logs/system.log, $D/stdout.log):" >&2
    tail -n 20 "$D/stdout.log" >&2 || true
    grep -E 'ERROR|Exception' "$D/logs/system.log" 2>/dev/null | tail -n 10 >&2 || true
    stop_pidfile "$D/cassandra.pid"
    exit 1
  fi
  # A password of the run's own (the well-known default would also be the store's name in the
  # tests, and secrets are masked in messages).
  pw="pw$RANDOM$RANDOM"
  cql_ready "$nport" cassandra cassandra "ALTER ROLE cassandra WITH PASSWORD = '$pw'" \
    2>"$D/alter-role.log" || {
    echo "cassandra.sh: could not set the superuser's password (see $D/alter-role.log)" >&2
    stop_pidfile "$D/cassandra.pid"; exit 1; }
  # The old credentials may stay cached for credentials_validity (2 s): wait for the new ones.
  wait_cmd 30 cql_ready "$nport" cassandra "$pw" ||
    { echo "cassandra.sh: login with the new password failed" >&2; stop_pidfile "$D/cassandra.pid"; exit 1; }
  printf 'export SS_TEST_CASSANDRA_HOSTS=127.0.0.1\nexport SS_TEST_CASSANDRA_PORT=%s\n' "$nport" >"$DIR/cassandra.env"
  printf 'export SS_TEST_CASSANDRA_USER=cassandra\nexport SS_TEST_CASSANDRA_PASSWORD=%s\n' "$pw" >>"$DIR/cassandra.env"
  echo "cassandra.sh: Cassandra ready on 127.0.0.1:$nport after $(($(date +%s) - t0)) s (java: $java)"
  ;;
stop)
  stop_pidfile "$D/cassandra.pid"
  ;;
*)
  echo "usage: $0 start|stop DIR" >&2; exit 2
  ;;
esac
