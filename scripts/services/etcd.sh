#!/usr/bin/env bash
# Single-member etcd for the tests (contract: scripts/services/lib.sh).
#   etcd.sh start DIR   start on free ports; writes DIR/etcd.env (SS_TEST_ETCD_ENDPOINTS)
#   etcd.sh stop DIR    stop it
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib.sh"

cmd=${1:-}
DIR=${2:-}
[ -n "$cmd" ] && [ -n "$DIR" ] || { echo "usage: $0 start|stop DIR" >&2; exit 2; }
D="$DIR/etcd"

case "$cmd" in
start)
  command -v etcd >/dev/null || { echo "etcd.sh: etcd not installed (apt etcd-server)" >&2; exit 1; }
  mkdir -p "$D"
  rm -rf "$D/data"
  cport=$(free_port)
  pport=$(free_port)
  while [ "$pport" = "$cport" ]; do pport=$(free_port); done
  # A fresh data dir every start: every run begins empty.
  nohup etcd --name ss-test --data-dir "$D/data" \
    --listen-client-urls "http://127.0.0.1:$cport" --advertise-client-urls "http://127.0.0.1:$cport" \
    --listen-peer-urls "http://127.0.0.1:$pport" --initial-advertise-peer-urls "http://127.0.0.1:$pport" \
    --initial-cluster "ss-test=http://127.0.0.1:$pport" --initial-cluster-state new \
    --log-outputs stderr >"$D/etcd.log" 2>&1 </dev/null &
  echo $! >"$D/etcd.pid"
  if ! wait_cmd 20 curl -sf "http://127.0.0.1:$cport/health"; then
    echo "etcd.sh: etcd on port $cport not ready (see $D/etcd.log)" >&2
    stop_pidfile "$D/etcd.pid"
    exit 1
  fi
  printf 'export SS_TEST_ETCD_ENDPOINTS=http://127.0.0.1:%s\n' "$cport" >"$DIR/etcd.env"
  echo "etcd.sh: etcd ready on 127.0.0.1:$cport"
  ;;
stop)
  stop_pidfile "$D/etcd.pid"
  ;;
*)
  echo "usage: $0 start|stop DIR" >&2; exit 2
  ;;
esac
