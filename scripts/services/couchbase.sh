#!/usr/bin/env bash
# couchbase.sh start|stop DIR — CouchbaseMock (tests/servers/maven/couchbase, pinned; the mock
# libcouchbase tests with, not Couchbase Server) on 127.0.0.1 (contract: scripts/services/lib.sh):
# two nodes (so keys route by vBucket to different KV ports), one replica, 64 vBuckets, bucket
# `default` without a password and `protected` with password `secret` (SASL: SCRAM/PLAIN), CCCP
# (GET_CLUSTER_CONFIG) on.
# Writes DIR/couchbase.env with SS_TEST_COUCHBASE_URL (http://127.0.0.1:<REST port>) and
# SS_TEST_COUCHBASE_BUCKET.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

cmd=${1:-}
dir=${2:-}
if [ -z "$cmd" ] || [ -z "$dir" ]; then
  echo "usage: $0 start|stop DIR" >&2
  exit 2
fi
mkdir -p "$dir/couchbase"
dir=$(cd "$dir" && pwd)
d="$dir/couchbase"

bucket_ready() {
  curl -sf --max-time 2 "http://127.0.0.1:$1/pools/default/buckets/default" | grep -q vBucketServerMap
}

case "$cmd" in
start)
  command -v curl >/dev/null || { echo "couchbase.sh: curl missing" >&2; exit 1; }
  stop_pidfile "$d/couchbase.pid"
  CP=$(maven_classpath couchbase.sh couchbase) || exit 1
  port=$(free_port)
  nohup java -Xmx512m -cp "$CP" com.couchbase.mock.CouchbaseMock --host 127.0.0.1 --port "$port" \
    --nodes 2 --replicas 1 --vbuckets 64 --cccp --buckets default:,protected:secret \
    >"$d/couchbase.log" 2>&1 </dev/null &
  echo $! >"$d/couchbase.pid"
  if ! wait_cmd 60 bucket_ready "$port"; then
    echo "couchbase.sh: CouchbaseMock did not serve the bucket config on 127.0.0.1:$port" >&2
    tail -n 20 "$d/couchbase.log" >&2 || true
    stop_pidfile "$d/couchbase.pid"
    exit 1
  fi
  {
    echo "export SS_TEST_COUCHBASE_URL=http://127.0.0.1:$port"
    echo "export SS_TEST_COUCHBASE_BUCKET=default"
  } >"$dir/couchbase.env"
  echo "couchbase.sh: CouchbaseMock (2 nodes) with REST on 127.0.0.1:$port"
  ;;
stop)
  stop_pidfile "$d/couchbase.pid"
  rm -f "$dir/couchbase.env"
  ;;
*)
  echo "usage: $0 start|stop DIR" >&2
  exit 2
  ;;
esac
