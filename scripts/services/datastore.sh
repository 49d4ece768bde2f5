#!/usr/bin/env bash
# Google's Cloud Datastore emulator (Firestore in Datastore mode) for the tests
# (contract: scripts/services/lib.sh).
#   datastore.sh start DIR   writes DIR/datastore.env (SS_TEST_DATASTORE_ENDPOINT, _PROJECT)
#   datastore.sh stop DIR
# The emulator comes with google-cloud-cli, which is not in Debian: where this machine has no
# emulator jar, start succeeds without an env file and says why, and the firestore tests skip.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib.sh"

cmd=${1:-}
DIR=${2:-}
[ -n "$cmd" ] && [ -n "$DIR" ] || { echo "usage: $0 start|stop DIR" >&2; exit 2; }
D="$DIR/datastore"
SDK=${SS_GCLOUD_SDK:-/usr/lib/google-cloud-sdk}
JAR="$SDK/platform/cloud-datastore-emulator/CloudDatastore.jar"

case "$cmd" in
start)
  rm -f "$DIR/datastore.env"
  if [ ! -f "$JAR" ]; then
    echo "datastore.sh: Datastore emulator not installed on this machine (google-cloud-cli is not in Debian; no $JAR): firestore tests will be skipped"
    exit 0
  fi
  command -v java >/dev/null || {
    echo "datastore.sh: java not installed, needed by the Datastore emulator: firestore tests will be skipped"
    exit 0; }
  mkdir -p "$D"
  rm -rf "$D/data"
  port=$(free_port)
  # java directly: the SDK's wrapper is a shell script, and stopping it leaves java running.
  # Firestore-in-Datastore-mode semantics (no 25-entity-group limit on transactions), in memory.
  cd "$D"
  nohup java -Xmx512m -cp "$JAR" com.google.cloud.datastore.emulator.CloudDatastore start \
    --host=127.0.0.1 --port="$port" --store_on_disk=false --firestore_in_datastore_mode \
    "$D/data" >"$D/datastore.log" 2>&1 </dev/null &
  echo $! >"$D/datastore.pid"
  cd - >/dev/null
  if ! wait_cmd 60 curl -sf "http://127.0.0.1:$port/"; then
    echo "datastore.sh: Datastore emulator on port $port not ready (see $D/datastore.log)" >&2
    stop_pidfile "$D/datastore.pid"
    exit 1
  fi
  {
    printf 'export SS_TEST_DATASTORE_ENDPOINT=127.0.0.1:%s\n' "$port"
    printf 'export SS_TEST_DATASTORE_PROJECT=statestore-test\n'
  } >"$DIR/datastore.env"
  echo "datastore.sh: Datastore emulator ready on 127.0.0.1:$port"
  ;;
stop)
  stop_pidfile "$D/datastore.pid"
  ;;
*)
  echo "usage: $0 start|stop DIR" >&2; exit 2
  ;;
esac
