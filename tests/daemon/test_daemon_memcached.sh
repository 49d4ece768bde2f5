#!/usr/bin/env bash
# statestored's answers that need a store unlike memory/sqlite, on a real memcached started
# through scripts/services/memcached.sh (its own instance, free port):
#   - 400 ERR_STATE_SAVE / ERR_STATE_DELETE for an ETag the store cannot parse (CAS numbers)
#   - 500 ERR_STATE_STORE_NOT_SUPPORTED for /transaction on a store without transactions
#   - 500 ERR_STATE_GET / ERR_STATE_SAVE / ERR_STATE_DELETE when the database goes away
# usage: test_daemon_memcached.sh <statestored>; skips (77) without the memcached binary.
set -uo pipefail
DAEMON=$1
HERE=$(cd "$(dirname "$0")" && pwd)
SERVICES="$HERE/../../scripts/services"
# shellcheck source=/dev/null
. "$SERVICES/lib.sh"
for tool in memcached nc curl; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed (scripts/install-deps.sh)"; exit 77; }
done

WORK=$(mktemp -d /tmp/ss-daemon-mc-XXXXXX)
cleanup() {
  stop_pidfile "$WORK/daemon.pid"
  bash "$SERVICES/memcached.sh" stop "$WORK" >/dev/null 2>&1
  rm -rf "$WORK"
}
trap cleanup EXIT

bash "$SERVICES/memcached.sh" start "$WORK" || { echo "FAIL: could not start memcached"; exit 1; }
# shellcheck source=/dev/null
. "$WORK/memcached.env"
mkdir -p "$WORK/res"
cat >"$WORK/res/mc.yaml" <<YAML
apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: mc
spec:
  type: state.memcached
  version: v1
  metadata:
  - name: hosts
    value: "$SS_TEST_MEMCACHED_HOSTS"
  - name: timeout
    value: "500"
YAML
"$DAEMON" --dapr-http-port 0 --resources-path "$WORK/res" >"$WORK/daemon.log" 2>&1 </dev/null &
echo $! >"$WORK/daemon.pid"
wait_cmd 20 grep -q 'listening on 127.0.0.1:' "$WORK/daemon.log"
PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$WORK/daemon.log" | head -n1)
if [ -z "$PORT" ]; then
  echo "FAIL: statestored did not start"; cat "$WORK/daemon.log"; exit 1
fi
B="http://127.0.0.1:$PORT/v1.0"

fails=0 checks=0
# expect STATUS BODY-SUBSTRING curl-args...
expect() {
  local want=$1 sub=$2 out code body
  shift 2
  checks=$((checks + 1))
  out=$(curl -s --max-time 20 -w '\n%{http_code}' "$@")
  code=${out##*$'\n'}
  body=${out%$'\n'*}
  if [ "$code" != "$want" ] || [[ $body != *"$sub"* ]]; then
    echo "FAIL: curl $* -> $code $body (want $want with '$sub')"
    fails=$((fails + 1))
  fi
}
J=(-H 'Content-Type: application/json')

expect 204 "" -X POST "$B/state/mc" "${J[@]}" -d '[{"key":"k1","value":{"a":1.10}}]'
expect 200 '{"a":1.10}' "$B/state/mc/k1"
expect 400 '"errorCode":"ERR_STATE_SAVE"' -X POST "$B/state/mc" "${J[@]}" \
  -d '[{"key":"k1","value":2,"etag":"not-a-number"}]'
expect 400 'invalid etag value' -X POST "$B/state/mc" "${J[@]}" \
  -d '[{"key":"k1","value":2,"etag":"not-a-number"}]'
expect 400 '"errorCode":"ERR_STATE_DELETE"' -X DELETE -H 'If-Match: not-a-number' "$B/state/mc/k1"
expect 409 '"errorCode":"ERR_STATE_SAVE"' -X POST "$B/state/mc" "${J[@]}" \
  -d '[{"key":"k1","value":2,"etag":"999999999"}]'
expect 500 '"errorCode":"ERR_STATE_STORE_NOT_SUPPORTED"' -X POST "$B/state/mc/transaction" "${J[@]}" \
  -d '{"operations":[{"operation":"upsert","request":{"key":"t","value":1}}]}'
expect 500 "state store mc doesn't support transactions" -X POST "$B/state/mc/transaction" \
  "${J[@]}" -d '{"operations":[]}'
expect 200 '{"name":"mc","type":"state.memcached","version":"v1","capabilities":["ETAG","TTL"]}' \
  "$B/metadata"

# the database goes away: store failures are 500s naming the store's error
bash "$SERVICES/memcached.sh" stop "$WORK"
expect 500 '"errorCode":"ERR_STATE_GET"' "$B/state/mc/k1"
expect 500 '"errorCode":"ERR_STATE_SAVE"' -X POST "$B/state/mc" "${J[@]}" -d '[{"key":"k2","value":1}]'
expect 500 '"errorCode":"ERR_STATE_DELETE"' -X DELETE "$B/state/mc/k1"
# bulk get: a per-key failure is 200 with "error" in that item; a failure of the whole native
# bulk call is 500 ERR_STATE_BULK_GET (memcached's multi-get fails as a whole)
checks=$((checks + 1))
out=$(curl -s --max-time 20 -w '\n%{http_code}' -X POST "$B/state/mc/bulk" "${J[@]}" -d '{"keys":["k1"]}')
case "${out##*$'\n'} ${out%$'\n'*}" in
  '200 [{"key":"k1","error":'* | '500 {"errorCode":"ERR_STATE_BULK_GET"'*) ;;
  *) echo "FAIL: bulk get with the database down -> $out"; fails=$((fails + 1)) ;;
esac
expect 204 "" "$B/healthz"

# SIGTERM: a clean exit (status 0; sanitizer builds also report leaks through it)
checks=$((checks + 1))
kill -TERM "$(cat "$WORK/daemon.pid")"
wait "$(cat "$WORK/daemon.pid")"
rc=$?
rm -f "$WORK/daemon.pid"
if [ "$rc" -ne 0 ]; then echo "FAIL: statestored exited with $rc after SIGTERM"; fails=$((fails + 1)); fi
echo "test_daemon_memcached: $checks checks, $fails failed"
if [ "$fails" -ne 0 ]; then echo "---- statestored log"; cat "$WORK/daemon.log"; exit 1; fi
exit 0
