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
  scheme=http
  tls_args=()
  curl_args=()
  if [ "${ETCD_TLS:-0}" = 1 ]; then
    command -v openssl >/dev/null || { echo "etcd.sh: openssl missing" >&2; exit 1; }
    T="$D/tls"
    mkdir -p "$T"
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=ss-test-ca \
      -keyout "$T/ca.key" -out "$T/ca.pem" >"$T/openssl.log" 2>&1
    for who in server client; do
      openssl req -newkey rsa:2048 -nodes -subj "/CN=ss-test-$who" -keyout "$T/$who.key" \
        -out "$T/$who.csr" >>"$T/openssl.log" 2>&1
      printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n' >"$T/$who.ext"
      openssl x509 -req -in "$T/$who.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -CAcreateserial \
        -days 2 -extfile "$T/$who.ext" -out "$T/$who.pem" >>"$T/openssl.log" 2>&1
    done
    scheme=https
    tls_args=(--cert-file "$T/server.pem" --key-file "$T/server.key" --client-cert-auth
      --trusted-ca-file "$T/ca.pem")
    curl_args=(--cacert "$T/ca.pem" --cert "$T/client.pem" --key "$T/client.key")
  fi
  # A fresh data dir every start: every run begins empty.
  nohup etcd --name ss-test --data-dir "$D/data" "${tls_args[@]}" \
    --listen-client-urls "$scheme://127.0.0.1:$cport" --advertise-client-urls "$scheme://127.0.0.1:$cport" \
    --listen-peer-urls "http://127.0.0.1:$pport" --initial-advertise-peer-urls "http://127.0.0.1:$pport" \
    --initial-cluster "ss-test=http://127.0.0.1:$pport" --initial-cluster-state new \
    --log-outputs stderr >"$D/etcd.log" 2>&1 </dev/null &
  echo $! >"$D/etcd.pid"
  if ! wait_cmd 20 curl -sf --max-time 2 "${curl_args[@]}" "$scheme://127.0.0.1:$cport/health"; then
    echo "etcd.sh: etcd on port $cport not ready (see $D/etcd.log)" >&2
    stop_pidfile "$D/etcd.pid"
    exit 1
  fi
  printf 'export SS_TEST_ETCD_ENDPOINTS=%s://127.0.0.1:%s\n' "$scheme" "$cport" >"$DIR/etcd.env"
  if [ "${ETCD_TLS:-0}" = 1 ]; then
    printf 'export SS_TEST_ETCD_CA=%s\nexport SS_TEST_ETCD_CERT=%s\nexport SS_TEST_ETCD_KEY=%s\n' \
      "$T/ca.pem" "$T/client.pem" "$T/client.key" >>"$DIR/etcd.env"
  fi
  if [ "${ETCD_AUTH:-0}" = 1 ]; then
    pw="pw-$RANDOM$RANDOM"
    ctl() { ETCDCTL_API=3 etcdctl --endpoints="$scheme://127.0.0.1:$cport" "$@" >>"$D/etcdctl.log" 2>&1; }
    ctl user add "root:$pw" && ctl user grant-role root root && ctl auth enable ||
      { echo "etcd.sh: enabling auth failed (see $D/etcdctl.log)" >&2; stop_pidfile "$D/etcd.pid"; exit 1; }
    printf 'export SS_TEST_ETCD_USER=root\nexport SS_TEST_ETCD_PASSWORD=%s\n' "$pw" >>"$DIR/etcd.env"
  fi
  echo "etcd.sh: etcd ready on 127.0.0.1:$cport"
  ;;
stop)
  stop_pidfile "$D/etcd.pid"
  ;;
*)
  echo "usage: $0 start|stop DIR" >&2; exit 2
  ;;
esac
