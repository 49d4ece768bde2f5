#!/usr/bin/env bash
# dynalite (DynamoDB emulator, npm dynalite@4.0.0) for the tests (contract: scripts/services/lib.sh).
#   dynalite.sh start DIR   start on a free port; writes DIR/dynalite.env
#                           (SS_TEST_DYNAMODB_ENDPOINT, SS_TEST_DYNAMODB_REGION,
#                           SS_TEST_DYNAMODB_ACCESS_KEY, SS_TEST_DYNAMODB_SECRET_KEY)
#   dynalite.sh stop DIR    stop it
# The npm package comes from tests/servers/npm (lockfile), installed by ensure_npm_tools (lib.sh).
# dynalite checks only the shape of a SigV4 signature, never its value (see
# docs/stores/dynamodb.md).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib.sh"

cmd=${1:-}
DIR=${2:-}
[ -n "$cmd" ] && [ -n "$DIR" ] || { echo "usage: $0 start|stop DIR" >&2; exit 2; }
D="$DIR/dynalite"

case "$cmd" in
start)
  mkdir -p "$D"
  NPM=$(ensure_npm_tools dynalite.sh) || exit 1
  port=$(free_port)
  nohup node "$NPM/node_modules/dynalite/cli.js" --host 127.0.0.1 --port "$port" \
    --createTableMs 0 --deleteTableMs 0 --updateTableMs 0 >"$D/dynalite.log" 2>&1 </dev/null &
  echo $! >"$D/dynalite.pid"
  if ! wait_cmd 30 curl -sf "http://127.0.0.1:$port/"; then
    echo "dynalite.sh: dynalite on port $port not ready (see $D/dynalite.log)" >&2
    stop_pidfile "$D/dynalite.pid"
    exit 1
  fi
  {
    printf 'export SS_TEST_DYNAMODB_ENDPOINT=http://127.0.0.1:%s\n' "$port"
    printf 'export SS_TEST_DYNAMODB_REGION=us-east-1\n'
    printf 'export SS_TEST_DYNAMODB_ACCESS_KEY=AKIDLOCALTEST\n'
    printf 'export SS_TEST_DYNAMODB_SECRET_KEY=local-test-secret-not-a-real-key\n'
  } >"$DIR/dynalite.env"
  echo "dynalite.sh: dynalite ready on 127.0.0.1:$port"
  ;;
stop)
  stop_pidfile "$D/dynalite.pid"
  ;;
*)
  echo "usage: $0 start|stop DIR" >&2; exit 2
  ;;
esac
