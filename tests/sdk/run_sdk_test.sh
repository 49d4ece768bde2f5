#!/usr/bin/env bash
# Runs the official Dapr JS SDK against statestored.
# usage: run_sdk_test.sh <statestored> <test file>
# @dapr/dapr comes pinned from tests/servers/npm (lockfile), installed by ensure_npm_tools
# (scripts/services/lib.sh); a failed install fails the test.
set -uo pipefail
DAEMON=$1 TESTFILE=$2
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
cat >"$WORK/res/statestore.yaml" <<'YAML'
apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: statestore
spec:
  type: state.in-memory
  version: v1
  metadata: []
YAML
# Port 0: the daemon picks a free port and names it in its log (no race with other processes).
"$DAEMON" --dapr-http-port 0 --resources-path "$WORK/res" --app-id sdk-test \
  >"$WORK/daemon.log" 2>&1 </dev/null &
PID=$!
wait_cmd 20 grep -q 'listening on 127.0.0.1:' "$WORK/daemon.log"
PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$WORK/daemon.log" | head -n1)
if [ -z "$PORT" ] || ! wait_cmd 20 curl -sf "http://127.0.0.1:$PORT/v1.0/healthz"; then
  echo "FAIL: statestored did not come up"; cat "$WORK/daemon.log"; exit 1
fi

cd "$WORK" || exit 1
DAPR_HTTP_PORT=$PORT NODE_PATH="$NPM/node_modules" timeout 300 node --test --test-reporter=spec \
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
