#!/usr/bin/env bash
# Runs the official Dapr JS SDK against statestored.
# usage: run_sdk_test.sh <statestored> <test file> [http|grpc] [memory|sqlite|redis]
# The protocol is the SDK's (HTTP on --dapr-http-port, or gRPC on --dapr-grpc-port); the store
# is the one behind "statestore" (redis needs SS_TEST_REDIS_ADDR from scripts/services/redis.sh).
# @dapr/dapr comes pinned from tests/servers/npm (lockfile), installed by ensure_npm_tools
# (scripts/services/lib.sh); a failed install fails the test.
set -uo pipefail
DAEMON=$1 TESTFILE=$2 PROTOCOL=${3:-http} STORE=${4:-memory}
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=/dev/null
. "$HERE/../../scripts/services/lib.sh"

for tool in node curl; do
  command -v "$tool" >/dev/null || { echo "FAIL: $tool is not installed (scripts/install-deps.sh)"; exit 1; }
done
NPM=$(ensure_npm_tools run_sdk_test.sh) || { echo "FAIL: could not install the npm test tools"; exit 1; }

WORK=$(mktemp -d /tmp/ss-sdk-XXXXXX)
PID=""
cleanup() {
  [ -n "$PID" ] && echo "$PID" >"$WORK/daemon.pid" && stop_pidfile "$WORK/daemon.pid"
  rm -rf "$WORK"
}
trap cleanup EXIT

mkdir -p "$WORK/res"
case "$STORE" in
memory) TYPE=state.in-memory MD="  metadata: []" ;;
sqlite) TYPE=state.sqlite MD="  metadata:
  - name: connectionString
    value: $WORK/sdk.db" ;;
redis)
  [ -n "${SS_TEST_REDIS_ADDR:-}" ] ||
    { echo "SKIP: SS_TEST_REDIS_ADDR is not set (start scripts/services/redis.sh)"; exit 77; }
  TYPE=state.redis MD="  metadata:
  - name: redisHost
    value: $SS_TEST_REDIS_ADDR" ;;
*) echo "FAIL: unknown store $STORE"; exit 2 ;;
esac
cat >"$WORK/res/statestore.yaml" <<YAML
apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: statestore
spec:
  type: $TYPE
  version: v1
$MD
YAML
# Port 0: the daemon picks free ports and names them in its log (no race with other processes).
# The app id (the key prefix) is new per run, so a shared Redis holds nothing from a last run.
"$DAEMON" --dapr-http-port 0 --dapr-grpc-port 0 --resources-path "$WORK/res" \
  --app-id "sdk-test-$$" >"$WORK/daemon.log" 2>&1 </dev/null &
PID=$!
wait_cmd 20 grep -q 'listening on 127.0.0.1:' "$WORK/daemon.log"
[ "$PROTOCOL" = grpc ] && wait_cmd 10 grep -q 'gRPC API on grpc://127.0.0.1:' "$WORK/daemon.log"
PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$WORK/daemon.log" | head -n1)
GRPC_PORT=$(sed -n 's|.*gRPC API on grpc://127\.0\.0\.1:\([0-9]*\).*|\1|p' "$WORK/daemon.log" | head -n1)
if [ -z "$PORT" ] || ! wait_cmd 20 curl -sf "http://127.0.0.1:$PORT/v1.0/healthz"; then
  echo "FAIL: statestored did not come up"; cat "$WORK/daemon.log"; exit 1
fi
if [ "$PROTOCOL" = grpc ] && [ -z "$GRPC_PORT" ]; then
  echo "FAIL: statestored serves no gRPC API (built without it?)"; cat "$WORK/daemon.log"; exit 1
fi

cd "$WORK" || exit 1
SS_SDK_PROTOCOL=$PROTOCOL DAPR_HTTP_PORT=$PORT DAPR_GRPC_PORT=$GRPC_PORT NODE_PATH="$NPM/node_modules" timeout 300 node --test --test-reporter=spec \
  "$TESTFILE"
rc=$?
# a clean SIGTERM exit (sanitizer builds report leaks through the status)
kill -TERM "$PID"
wait "$PID"
drc=$?
PID=""
if [ $drc -ne 0 ]; then echo "FAIL: statestored exited with $drc after SIGTERM"; rc=1; fi
if [ $rc -ne 0 ]; then echo "---- statestored log"; cat "$WORK/daemon.log"; fi
exit $rc
