#!/usr/bin/env bash
# A 3-member local etcd cluster for the failover test (contract: scripts/services/lib.sh).
#   etcd-cluster.sh start DIR           start 3 members on free ports; writes DIR/etcd-cluster.env
#                                       (SS_TEST_ETCD_CLUSTER_ENDPOINTS, SS_TEST_ETCD_CLUSTER_DIR)
#   etcd-cluster.sh stop DIR            stop every member
#   etcd-cluster.sh stop-member DIR N   stop member N (1..3) only
#   etcd-cluster.sh start-member DIR N  start member N again (same ports, same data dir)
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib.sh"

cmd=${1:-}
DIR=${2:-}
[ -n "$cmd" ] && [ -n "$DIR" ] || { echo "usage: $0 start|stop|stop-member|start-member DIR [N]" >&2; exit 2; }
D="$DIR/etcd-cluster"

launch() {
  # N state
  local n=$1 state=$2 cport pport
  cport=$(cat "$D/m$n.cport")
  pport=$(cat "$D/m$n.pport")
  nohup etcd --name "m$n" --data-dir "$D/m$n.data" \
    --listen-client-urls "http://127.0.0.1:$cport" --advertise-client-urls "http://127.0.0.1:$cport" \
    --listen-peer-urls "http://127.0.0.1:$pport" --initial-advertise-peer-urls "http://127.0.0.1:$pport" \
    --initial-cluster "$(cat "$D/initial-cluster")" --initial-cluster-state "$state" \
    --initial-cluster-token ss-test-cluster --log-outputs stderr >>"$D/m$n.log" 2>&1 </dev/null &
  echo $! >"$D/m$n.pid"
}

case "$cmd" in
start)
  command -v etcd >/dev/null || { echo "etcd-cluster.sh: etcd not installed (apt etcd-server)" >&2; exit 1; }
  rm -rf "$D"
  mkdir -p "$D"
  used=" "
  ic=""
  for n in 1 2 3; do
    for kind in cport pport; do
      p=$(free_port)
      while [[ $used == *" $p "* ]]; do p=$(free_port); done
      used="$used$p "
      echo "$p" >"$D/m$n.$kind"
    done
    ic="${ic:+$ic,}m$n=http://127.0.0.1:$(cat "$D/m$n.pport")"
  done
  echo "$ic" >"$D/initial-cluster"
  for n in 1 2 3; do launch "$n" new; done
  eps=""
  for n in 1 2 3; do
    port=$(cat "$D/m$n.cport")
    if ! wait_cmd 30 curl -sf --max-time 2 "http://127.0.0.1:$port/health"; then
      echo "etcd-cluster.sh: member m$n on port $port not ready (see $D/m$n.log)" >&2
      for k in 1 2 3; do stop_pidfile "$D/m$k.pid"; done
      exit 1
    fi
    eps="${eps:+$eps,}http://127.0.0.1:$port"
  done
  printf 'export SS_TEST_ETCD_CLUSTER_ENDPOINTS=%s\nexport SS_TEST_ETCD_CLUSTER_DIR=%s\n' "$eps" "$DIR" \
    >"$DIR/etcd-cluster.env"
  echo "etcd-cluster.sh: 3 members ready: $eps"
  ;;
stop)
  for n in 1 2 3; do stop_pidfile "$D/m$n.pid"; done
  ;;
stop-member)
  n=${3:?member number 1..3}
  stop_pidfile "$D/m$n.pid"
  ;;
start-member)
  n=${3:?member number 1..3}
  [ -f "$D/m$n.cport" ] || { echo "etcd-cluster.sh: not started in $DIR" >&2; exit 1; }
  if [ -f "$D/m$n.pid" ] && pid_alive "$(cat "$D/m$n.pid")"; then exit 0; fi
  launch "$n" existing
  wait_cmd 30 curl -sf --max-time 2 "http://127.0.0.1:$(cat "$D/m$n.cport")/health" ||
    { echo "etcd-cluster.sh: member m$n did not come back (see $D/m$n.log)" >&2; exit 1; }
  ;;
*)
  echo "usage: $0 start|stop|stop-member|start-member DIR [N]" >&2; exit 2
  ;;
esac
