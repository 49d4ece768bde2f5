#!/usr/bin/env bash
# Cosmos DB stand-in for the tests: @vercel/cosmosdb-server (pinned), plain HTTP, on a free port,
# with one database and one container partitioned on /partitionKey, as Dapr's component expects
# (contract: scripts/services/lib.sh).
#   cosmosdb.sh start DIR   writes DIR/cosmosdb.env (SS_TEST_COSMOS_URL, _KEY, _DB, _COLLECTION)
#   cosmosdb.sh stop DIR
# The npm package comes from tests/servers/npm (lockfile), installed by ensure_npm_tools (lib.sh).
# The stand-in checks no signature and its transactional batches are not atomic: see
# docs/stores/cosmosdb.md for what is verified against what.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib.sh"

cmd=${1:-}
DIR=${2:-}
[ -n "$cmd" ] && [ -n "$DIR" ] || { echo "usage: $0 start|stop DIR" >&2; exit 2; }
D="$DIR/cosmosdb"
# The well-known key of Microsoft's emulator: the stand-in ignores it, the driver signs with it.
KEY="C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw=="

case "$cmd" in
start)
  NPM=$(ensure_npm_tools cosmosdb.sh) || exit 1
  CLI="$NPM/node_modules/@vercel/cosmosdb-server/lib/cli.js"
  mkdir -p "$D"
  port=$(free_port)
  cd "$D"
  nohup node "$CLI" --host 127.0.0.1 -p "$port" --no-ssl >"$D/cosmosdb.log" 2>&1 </dev/null &
  echo $! >"$D/cosmosdb.pid"
  cd - >/dev/null
  if ! wait_port 127.0.0.1 "$port" 20; then
    echo "cosmosdb.sh: cosmosdb-server on port $port not ready (see $D/cosmosdb.log)" >&2
    stop_pidfile "$D/cosmosdb.pid"
    exit 1
  fi
  url="http://127.0.0.1:$port"
  # Database and container, created as Dapr's docs tell users to: partition key /partitionKey,
  # TTL on with no default expiry.
  if ! curl -sf -XPOST "$url/dbs" -H 'Content-Type: application/json' -d '{"id":"statestore"}' \
         >/dev/null ||
     ! curl -sf -XPOST "$url/dbs/statestore/colls" -H 'Content-Type: application/json' \
         -d '{"id":"state","partitionKey":{"paths":["/partitionKey"],"kind":"Hash"},"defaultTtl":-1}' \
         >/dev/null; then
    echo "cosmosdb.sh: could not create the database and container (see $D/cosmosdb.log)" >&2
    stop_pidfile "$D/cosmosdb.pid"
    exit 1
  fi
  {
    printf 'export SS_TEST_COSMOS_URL=%s\n' "$url"
    printf 'export SS_TEST_COSMOS_KEY=%s\n' "$KEY"
    printf 'export SS_TEST_COSMOS_DB=statestore\n'
    printf 'export SS_TEST_COSMOS_COLLECTION=state\n'
  } >"$DIR/cosmosdb.env"
  echo "cosmosdb.sh: cosmosdb-server ready on $url"
  ;;
stop)
  stop_pidfile "$D/cosmosdb.pid"
  ;;
*)
  echo "usage: $0 start|stop DIR" >&2; exit 2
  ;;
esac
