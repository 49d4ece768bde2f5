#!/usr/bin/env bash
# shellcheck disable=SC1091,SC2034,SC2154  # PORT_x, PID_x, LOG_x, BASE_x come from daemon_start
# TLS to backends, each against our own server with a self-signed CA made here (openssl req):
# etcd over https with a client certificate (libcurl: tlsEnable, ca, cert, key), PostgreSQL
# with sslmode=verify-full (libpq), MariaDB with pemPath (libmariadb). Each: the daemon serves
# through the encrypted connection (and the server confirms it is encrypted), and a wrong CA
# stops start-up with a message naming the certificate problem.
# usage: test_backend_tls.sh STATESTORED [etcd|postgresql|mariadb]...
set -uo pipefail
STATESTORED=$1
shift
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ss-rel-tls.XXXXXX")
. "$(dirname "$0")/rel_lib.sh"
trap rel_cleanup EXIT
command -v openssl >/dev/null || skip "openssl is not installed"
command -v curl >/dev/null || skip "curl (the CLI) is not installed"
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(etcd postgresql mariadb)
[ "$(id -u)" -ne 0 ] || chmod a+x "$WORK"

# mkca DIR: ca.pem/ca.key, server.pem/server.key (SAN 127.0.0.1, localhost), and other-ca.pem
mkca() {
  local T=$1
  mkdir -p "$T"
  {
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=ss-rel-ca -keyout "$T/ca.key" \
      -out "$T/ca.pem"
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=ss-rel-other-ca \
      -keyout "$T/other-ca.key" -out "$T/other-ca.pem"
    openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout "$T/server.key" \
      -out "$T/server.csr"
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >"$T/ext"
    openssl x509 -req -in "$T/server.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -CAcreateserial \
      -days 2 -extfile "$T/ext" -out "$T/server.pem"
  } >"$T/openssl.log" 2>&1
}

# serve_ok LABEL STORE TYPE PROPS...: the daemon starts and a save + get round-trips
serve_ok() {
  local label=$1 store=$2; shift 2
  local c="$WORK/c-$label"
  mkdir -p "$c"
  component "$c/s.yaml" "$store" "$@"
  if ! daemon_start t --resources-path "$c"; then
    fail "$label: the daemon did not start over TLS"
    return 1
  fi
  local st body
  st=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
    -d '[{"key":"tls-k","value":{"over":"tls"}}]' "$BASE_t/v1.0/state/$store")
  body=$(curl -s "$BASE_t/v1.0/state/$store/tls-k")
  check "$label: save ($st) and get over TLS" test "$st" = 204 -a "$body" = '{"over":"tls"}'
  return 0
}
serve_stop() { daemon_stop "$PID_t"; }

# refused LABEL PATTERN TYPE PROPS...: start-up fails, the log matches PATTERN
refused() {
  local label=$1 pat=$2; shift 2
  local c="$WORK/c-$label"
  mkdir -p "$c"
  component "$c/s.yaml" x "$@"
  timeout 30 "$STATESTORED" --dapr-http-port 0 --resources-path "$c" >"$WORK/$label.log" 2>&1 \
    </dev/null
  local rc=$?
  CHECKS=$((CHECKS + 1))
  # only the driver's message: the paths in the log line contain "tls" themselves
  if [ $rc -eq 1 ] && grep 'level=error' "$WORK/$label.log" | sed 's/.*open: //' | grep -Eiq "$pat"; then
    echo "ok: $label: refused: $(grep -m1 level=error "$WORK/$label.log" | sed 's/.*msg=//' | cut -c1-200)"
  else
    fail "$label: expected start-up to fail (exit 1) naming /$pat/, got exit $rc:"
    tail -n 3 "$WORK/$label.log" >&2
  fi
}

for t in "${targets[@]}"; do
  case $t in
  etcd)
    command -v etcd >/dev/null || { echo "not covered: etcd (not installed)"; continue; }
    ETCD_TLS=1 service_start etcd || { fail "etcd with TLS did not start"; continue; }
    serve_ok etcd-tls e state.etcd endpoints "$SS_TEST_ETCD_ENDPOINTS" tlsEnable true ca "$SS_TEST_ETCD_CA" \
      cert "$SS_TEST_ETCD_CERT" key "$SS_TEST_ETCD_KEY" && serve_stop
    mkca "$WORK/etcd-other"
    refused etcd-wrong-ca "certificate|SSL|TLS" state.etcd endpoints "$SS_TEST_ETCD_ENDPOINTS" tlsEnable true \
      ca "$WORK/etcd-other/other-ca.pem" cert "$SS_TEST_ETCD_CERT" key "$SS_TEST_ETCD_KEY" timeout 3s
    refused etcd-no-client-cert "certificate|SSL|TLS|handshake|peer" state.etcd endpoints \
      "$SS_TEST_ETCD_ENDPOINTS" tlsEnable true ca "$SS_TEST_ETCD_CA" timeout 3s
    ;;
  postgresql)
    ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || { echo "not covered: postgresql"; continue; }
    service_start postgresql || { fail "postgresql did not start"; continue; }
    T="$WORK/pg-tls"
    mkca "$T"
    data="$WORK/svc/postgresql/data"
    cp "$T/server.pem" "$data/ss-server.pem"
    cp "$T/server.key" "$data/ss-server.key"
    chmod 600 "$data/ss-server.key"
    [ "$(id -u)" -ne 0 ] || chown postgres:postgres "$data/ss-server.pem" "$data/ss-server.key"
    chmod a+r "$T"/*.pem
    psql_q() { psql "$SS_TEST_POSTGRES_DSN sslmode=disable" -XAtqc "$1"; }
    psql_q "ALTER SYSTEM SET ssl_cert_file = 'ss-server.pem'" &&
      psql_q "ALTER SYSTEM SET ssl_key_file = 'ss-server.key'" &&
      psql_q "ALTER SYSTEM SET ssl = on" && psql_q "SELECT pg_reload_conf()" >/dev/null ||
      { fail "could not turn TLS on in PostgreSQL"; continue; }
    sleep 0.5
    if serve_ok pg-tls p state.postgresql connectionString \
      "$SS_TEST_POSTGRES_DSN sslmode=verify-full sslrootcert=$T/ca.pem"; then
      n=$(psql_q "SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE s.ssl AND a.backend_type = 'client backend'")
      check "pg-tls: the server sees $n encrypted client connection(s)" test "${n:-0}" -ge 1
      serve_stop
    fi
    refused pg-wrong-ca "certificate" state.postgresql connectionString \
      "$SS_TEST_POSTGRES_DSN sslmode=verify-full sslrootcert=$T/other-ca.pem"
    ;;
  mariadb)
    command -v mariadbd >/dev/null || [ -x /usr/sbin/mariadbd ] ||
      { echo "not covered: mariadb (not installed)"; continue; }
    service_start mariadb || { fail "mariadb did not start"; continue; }
    T="$WORK/my-tls"
    mkca "$T"
    # the same server again, with TLS: its command line plus the certificate options
    # (mariadb.sh stops the pid in mariadbd.pid: the relaunched server's goes there too)
    pidf="$WORK/svc/mariadb/mariadbd.pid"
    mapfile -t args < <(tr '\0' '\n' <"/proc/$(head -n1 "$pidf")/cmdline")
    bash "$SERVICES/mariadb.sh" pause "$WORK/svc" >/dev/null 2>&1
    nohup "${args[@]}" --ssl-ca="$T/ca.pem" --ssl-cert="$T/server.pem" --ssl-key="$T/server.key" \
      >"$WORK/mariadb-tls.log" 2>&1 </dev/null &
    echo $! >"$pidf"
    port=$(cat "$WORK/svc/mariadb/port")
    . "$SERVICES/lib.sh"
    wait_cmd 30 mariadb-admin --no-defaults -h 127.0.0.1 -P "$port" -u root ping ||
      { fail "mariadb with TLS did not start"; continue; }
    my_q() { mariadb --no-defaults --skip-ssl -h 127.0.0.1 -P "$port" -u root -N -e "$1"; }
    accepts="SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME='SSL_ACCEPTS'"
    before=$(my_q "$accepts")
    if serve_ok mysql-tls m state.mysql connectionString "root@tcp(127.0.0.1:$port)/" pemPath "$T/ca.pem"; then
      n=$(($(my_q "$accepts") - ${before:-0}))
      check "mysql-tls: the server accepted $n TLS connection(s) from the daemon" test "$n" -ge 1
      serve_stop
    fi
    refused mysql-wrong-ca "certificate|SSL|TLS" state.mysql connectionString "root@tcp(127.0.0.1:$port)/" \
      pemPath "$T/other-ca.pem"
    ;;
  *) echo "unknown target $t" >&2; exit 2 ;;
  esac
done
rel_finish
