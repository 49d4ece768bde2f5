#!/usr/bin/env bash
# Azurite table service (npm azurite@3.35.0) for the tests (contract: scripts/services/lib.sh).
#   azurite.sh start DIR   start on a free port; writes DIR/azurite.env
#                          (SS_TEST_AZURITE_ENDPOINT, SS_TEST_AZURITE_ACCOUNT, SS_TEST_AZURITE_KEY)
#   azurite.sh stop DIR    stop it
# The npm package comes from tests/servers/npm (lockfile), installed by ensure_npm_tools. Azurite
# checks SharedKey signatures; the account and key are its publicly documented defaults.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib.sh"

cmd=${1:-}
DIR=${2:-}
[ -n "$cmd" ] && [ -n "$DIR" ] || { echo "usage: $0 start|stop DIR" >&2; exit 2; }
D="$DIR/azurite"

case "$cmd" in
start)
  mkdir -p "$D"
  NPM=$(ensure_npm_tools azurite.sh) || exit 1
  port=$(free_port)
  # Run from DIR so nothing lands in the caller's working directory.
  cd "$D"
  nohup node "$NPM/node_modules/azurite/dist/src/table/main.js" --tableHost 127.0.0.1 \
    --tablePort "$port" --inMemoryPersistence --skipApiVersionCheck --loose --disableTelemetry \
    >"$D/azurite.log" 2>&1 </dev/null &
  echo $! >"$D/azurite.pid"
  if ! wait_port 127.0.0.1 "$port" 30; then
    echo "azurite.sh: azurite on port $port not ready (see $D/azurite.log)" >&2
    stop_pidfile "$D/azurite.pid"
    exit 1
  fi
  {
    printf 'export SS_TEST_AZURITE_ENDPOINT=http://127.0.0.1:%s/devstoreaccount1\n' "$port"
    printf 'export SS_TEST_AZURITE_ACCOUNT=devstoreaccount1\n'
    printf 'export SS_TEST_AZURITE_KEY=%s\n' \
      'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='
  } >"$DIR/azurite.env"
  echo "azurite.sh: azurite ready on 127.0.0.1:$port"
  ;;
stop)
  stop_pidfile "$D/azurite.pid"
  ;;
*)
  echo "usage: $0 start|stop DIR" >&2; exit 2
  ;;
esac
