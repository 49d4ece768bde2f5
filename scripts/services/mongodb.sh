#!/usr/bin/env bash
# mongodb.sh start|stop DIR — a MongoDB wire-protocol test server on 127.0.0.1 (contract:
# scripts/services/lib.sh): mongo-java-server with its memory backend (tests/servers/maven/mongodb,
# pinned), launched by tests/servers/mongodb/MongoLauncher.java, which binds a port the OS picks
# and writes it to a file. It is a standalone server without sessions' transactions and without
# a TTL monitor: docs/stores/mongodb.md lists what that leaves unverified.
# Writes DIR/mongodb.env with SS_TEST_MONGODB_HOST (host:port).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

cmd=${1:-}
dir=${2:-}
if [ -z "$cmd" ] || [ -z "$dir" ]; then
  echo "usage: $0 start|stop DIR" >&2
  exit 2
fi
mkdir -p "$dir/mongodb"
dir=$(cd "$dir" && pwd)
d="$dir/mongodb"

case "$cmd" in
start)
  stop_pidfile "$d/mongodb.pid"
  CP=$(maven_classpath mongodb.sh mongodb) || exit 1
  rm -f "$d/port"
  nohup java -Xmx512m -cp "$CP" "$SS_REPO/tests/servers/mongodb/MongoLauncher.java" "$d/port" \
    >"$d/mongodb.log" 2>&1 </dev/null &
  echo $! >"$d/mongodb.pid"
  # Source launch compiles first: allow a slow, shared machine 60 s.
  if ! wait_cmd 60 test -s "$d/port"; then
    echo "mongodb.sh: mongo-java-server did not start (see $d/mongodb.log)" >&2
    tail -n 20 "$d/mongodb.log" >&2 || true
    stop_pidfile "$d/mongodb.pid"
    exit 1
  fi
  port=$(cat "$d/port")
  if ! wait_port 127.0.0.1 "$port" 10; then
    stop_pidfile "$d/mongodb.pid"
    exit 1
  fi
  echo "export SS_TEST_MONGODB_HOST=127.0.0.1:$port" >"$dir/mongodb.env"
  echo "mongodb.sh: mongo-java-server on 127.0.0.1:$port"
  ;;
stop)
  stop_pidfile "$d/mongodb.pid"
  rm -f "$dir/mongodb.env"
  ;;
*)
  echo "usage: $0 start|stop DIR" >&2
  exit 2
  ;;
esac
