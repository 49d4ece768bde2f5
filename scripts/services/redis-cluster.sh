#!/usr/bin/env bash
# A 3-master Redis Cluster for the tests (contract: scripts/services/lib.sh).
#   redis-cluster.sh start DIR   writes DIR/redis-cluster.env (SS_TEST_REDIS_CLUSTER_ADDRS=h:p,h:p,h:p)
#   redis-cluster.sh stop DIR
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib.sh"

cmd=${1:-}
DIR=${2:-}
[ -n "$cmd" ] && [ -n "$DIR" ] || { echo "usage: $0 start|stop DIR" >&2; exit 2; }
D="$DIR/redis-cluster"

# A cluster node also listens on port+10000 (the cluster bus), so both must be free.
cluster_port() {
  python3 - <<'PY'
import random, socket
for _ in range(200):
    p = random.randint(20000, 50000)
    ok = True
    for q in (p, p + 10000):
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", q))
        except OSError:
            ok = False
        finally:
            s.close()
    if ok:
        print(p)
        break
PY
}

case "$cmd" in
start)
  command -v redis-server >/dev/null || { echo "redis-cluster.sh: redis-server not installed" >&2; exit 1; }
  mkdir -p "$D"
  addrs=()
  for i in 1 2 3; do
    port=$(cluster_port)
    [ -n "$port" ] || { echo "redis-cluster.sh: no free port pair" >&2; exit 1; }
    mkdir -p "$D/n$i"
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
      --cluster-enabled yes --cluster-config-file "$D/n$i/nodes.conf" --cluster-node-timeout 5000 \
      --pidfile "$D/n$i/redis.pid" --logfile "$D/n$i/redis.log" --dir "$D/n$i" >/dev/null 2>&1 </dev/null ||
      { echo "redis-cluster.sh: node $i failed to start (see $D/n$i/redis.log)" >&2; exit 1; }
    wait_cmd 10 redis-cli -h 127.0.0.1 -p "$port" ping ||
      { echo "redis-cluster.sh: node $i on $port not ready" >&2; exit 1; }
    wait_cmd 5 test -s "$D/n$i/redis.pid" || true
    addrs+=("127.0.0.1:$port")
  done
  redis-cli --cluster create "${addrs[@]}" --cluster-replicas 0 --cluster-yes >"$D/create.log" 2>&1 </dev/null ||
    { echo "redis-cluster.sh: cluster create failed (see $D/create.log)" >&2; exit 1; }
  for a in "${addrs[@]}"; do
    if ! wait_cmd 30 sh -c "redis-cli -h ${a%:*} -p ${a#*:} cluster info | grep -q 'cluster_state:ok'"; then
      echo "redis-cluster.sh: cluster not ok on $a" >&2; exit 1
    fi
  done
  list=$(IFS=,; echo "${addrs[*]}")
  printf 'export SS_TEST_REDIS_CLUSTER_ADDRS=%s\n' "$list" >"$DIR/redis-cluster.env"
  echo "redis-cluster.sh: cluster ready on $list"
  ;;
stop)
  for i in 1 2 3; do stop_pidfile "$D/n$i/redis.pid"; done
  ;;
*)
  echo "usage: $0 start|stop DIR" >&2; exit 2
  ;;
esac
