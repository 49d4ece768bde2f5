#!/usr/bin/env bash
# Runs the official Dapr JS SDK against statestored.
# usage: run_sdk_test.sh <statestored> <sdk install dir> <test file>
# Installs @dapr/dapr (pinned) into the build directory on first use; skips (77) when node/npm
# are missing or npm cannot reach its registry.
set -uo pipefail
DAEMON=$1 SDKDIR=$2 TESTFILE=$3
SDK_VERSION=3.18.0
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=/dev/null
. "$HERE/../../scripts/services/lib.sh"

for tool in node npm curl; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed"; exit 77; }
done

if [ ! -f "$SDKDIR/node_modules/@dapr/dapr/package.json" ] ||
   ! grep -q "\"version\": \"$SDK_VERSION\"" "$SDKDIR/node_modules/@dapr/dapr/package.json"; then
  mkdir -p "$SDKDIR"
  echo "installing @dapr/dapr@$SDK_VERSION into $SDKDIR"
  if ! timeout 600 npm install --prefix "$SDKDIR" --no-audit --no-fund "@dapr/dapr@$SDK_VERSION" \
      >"$SDKDIR/npm-install.log" 2>&1; then
    tail -20 "$SDKDIR/npm-install.log"
    if grep -qiE 'ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ETIMEDOUT|ECONNRESET|network|getaddrinfo' \
        "$SDKDIR/npm-install.log"; then
      echo "SKIP: npm cannot reach its registry (see above)"
      exit 77
    fi
    echo "FAIL: npm install @dapr/dapr@$SDK_VERSION failed"
    exit 1
  fi
fi

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

# The test file must sit next to node_modules for require() to find the SDK.
cp "$TESTFILE" "$SDKDIR/sdk.test.cjs"
cd "$SDKDIR" || exit 1
DAPR_HTTP_PORT=$PORT timeout 300 node --test --test-reporter=spec sdk.test.cjs
rc=$?
# a clean SIGTERM exit (sanitizer builds report leaks through the status)
kill -TERM "$PID"
wait "$PID"
drc=$?
PID=""
if [ $drc -ne 0 ]; then echo "FAIL: statestored exited with $drc after SIGTERM"; rc=1; fi
if [ $rc -ne 0 ]; then echo "---- statestored log"; cat "$WORK/daemon.log"; fi
exit $rc
