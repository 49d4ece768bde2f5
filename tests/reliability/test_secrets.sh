#!/usr/bin/env bash
# shellcheck disable=SC1091,SC2034,SC2154  # PORT_x, PID_x, LOG_x, BASE_x come from daemon_start
# Secrets from component files never appear in the daemon's log (at debug level) or in its
# answers: components with passwords and keys, forced to fail at start-up (nothing listens
# there, or the server refuses the credentials) and, where a server runs (SS_TEST_* set), served
# and driven into request errors. usage: test_secrets.sh STATESTORED
set -uo pipefail
STATESTORED=$1
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ss-rel-secrets.XXXXXX")
. "$(dirname "$0")/rel_lib.sh"
trap rel_cleanup EXIT
command -v curl >/dev/null || skip "curl (the CLI) is not installed"
SECRET=Zq7-s3cr3t-DoNotLog-41f9
DEAD=127.0.0.1:$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

# startup_fails LABEL TYPE PROPS...: a store that cannot open stops start-up; the secret must
# not be in what the daemon printed.
startup_fails() {
  local label=$1; shift
  local c="$WORK/c-$label"
  mkdir -p "$c"
  component "$c/s.yaml" "$label" "$@"
  timeout 60 "$STATESTORED" --dapr-http-port 0 --log-level debug --resources-path "$c" \
    >"$WORK/$label.log" 2>&1 </dev/null
  local rc=$?
  CHECKS=$((CHECKS + 1))
  if grep -q "$SECRET" "$WORK/$label.log"; then
    fail "$label: the secret is in the log:"; grep "$SECRET" "$WORK/$label.log" | head -3 >&2
  elif [ $rc -ne 1 ]; then
    fail "$label: expected start-up to fail with exit 1, got $rc"; tail -n 3 "$WORK/$label.log" >&2
  else
    echo "ok: $label: start-up failed without the secret: $(grep -m1 'level=error' "$WORK/$label.log" | cut -c1-220)"
  fi
}

startup_fails redis-dead state.redis redisHost "$DEAD" redisPassword "$SECRET" dialTimeout 1s
startup_fails pg-dead state.postgresql connectionString \
  "host=127.0.0.1 port=${DEAD##*:} user=postgres password=$SECRET dbname=postgres connect_timeout=2"
startup_fails pg-url-dead state.postgresql connectionString \
  "postgres://postgres:$SECRET@$DEAD/postgres?connect_timeout=2"
startup_fails mysql-dead state.mysql connectionString "root:$SECRET@tcp($DEAD)/?timeout=2s"
startup_fails etcd-dead state.etcd endpoints "http://$DEAD" username root password "$SECRET" \
  timeout 1s
if [ -n "${SS_TEST_REDIS_ADDR:-}" ]; then # a server without AUTH refuses the password
  startup_fails redis-auth state.redis redisHost "$SS_TEST_REDIS_ADDR" redisPassword "$SECRET"
fi
if [ -n "${SS_TEST_MYSQL_DSN:-}" ]; then # root has no password here: access denied
  hostport=$(echo "$SS_TEST_MYSQL_DSN" | sed -n 's/.*tcp(\([^)]*\)).*/\1/p')
  startup_fails mysql-auth state.mysql connectionString "root:$SECRET@tcp($hostport)/"
fi
if [ -n "${SS_TEST_ETCD_ENDPOINTS:-}" ] && [ -n "${SS_TEST_ETCD_USER:-}" ]; then
  startup_fails etcd-auth state.etcd endpoints "$SS_TEST_ETCD_ENDPOINTS" username \
    "$SS_TEST_ETCD_USER" password "$SECRET"
fi

# Served stores holding secrets (PostgreSQL trusts any password here), driven into errors.
C="$WORK/served"
mkdir -p "$C"
stores=()
if [ -n "${SS_TEST_POSTGRES_DSN:-}" ]; then
  component "$C/pg.yaml" pg state.postgresql connectionString "$SS_TEST_POSTGRES_DSN password=$SECRET"
  stores+=(pg)
fi
component "$C/sq.yaml" sq state.sqlite connectionString "$WORK/s.db"
stores+=(sq)
export DAPR_API_TOKEN=$SECRET-token
daemon_start v --log-level debug --resources-path "$C" || { FAILS=1; rel_finish; exit 1; }
unset DAPR_API_TOKEN
T="dapr-api-token: $SECRET-token"
: >"$WORK/answers"
for s in "${stores[@]}"; do
  for r in "GET /v1.0/state/$s/k" "DELETE /v1.0/state/$s/k?concurrency=bogus" \
    "GET /v1.0/state/nope/k" "GET /v1.0/metadata"; do
    curl -s -i -H "$T" -X "${r%% *}" "$BASE_v${r#* }" >>"$WORK/answers"
  done
  for b in '[{"key":"k","value":1,"etag":"not-a-uuid"}]' '[{"key":"k","value":1,' \
    '[{"key":"k","value":1,"etag":"00000000-0000-4000-8000-000000000000"}]'; do
    curl -s -i -H "$T" -H 'Content-Type: application/json' -d "$b" "$BASE_v/v1.0/state/$s" \
      >>"$WORK/answers"
  done
  curl -s -i -H "$T" -d '{"operations":[{"operation":"upsert","request":{"key":"k","value":1,"etag":"00000000-0000-4000-8000-000000000000"}}]}' \
    "$BASE_v/v1.0/state/$s/transaction" >>"$WORK/answers"
done
curl -s -i -H "dapr-api-token: wrong" "$BASE_v/v1.0/state/sq/k" >>"$WORK/answers"
daemon_stop "$PID_v"
CHECKS=$((CHECKS + 1))
if [ "$(grep -o 'HTTP/1.1 [45][0-9][0-9]' "$WORK/answers" | wc -l)" -lt 5 ]; then
  fail "the error requests did not produce errors"; head -40 "$WORK/answers" >&2
else echo "ok: $(grep -o 'HTTP/1.1 [45][0-9][0-9]' "$WORK/answers" | wc -l) error answers produced"; fi
check "secrets not in any answer (stores: ${stores[*]})" bash -c "! grep -q '$SECRET' '$WORK/answers'"
check "secrets not in the debug log" bash -c "! grep -q '$SECRET' '$LOG_v'"
rel_finish
