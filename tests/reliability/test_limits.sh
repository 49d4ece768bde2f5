#!/usr/bin/env bash
# shellcheck disable=SC1091,SC2034,SC2154  # PORT_x, PID_x, LOG_x, BASE_x come from daemon_start
# The daemon's limits, each set by a flag and each answered with a clear error: key length
# (400), items in a bulk get / save / transaction (400), header size (431), connection count
# (503), request timeout (408), body size (413); listening on loopback by default; the API token
# compared whole (wrong length, wrong last byte, right token).
# usage: test_limits.sh STATESTORED
set -uo pipefail
STATESTORED=$1
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ss-rel-limits.XXXXXX")
. "$(dirname "$0")/rel_lib.sh"
trap rel_cleanup EXIT
command -v curl >/dev/null || skip "curl (the CLI) is not installed"

# req METHOD PATH [BODY] -> "STATUS BODY" of one request to daemon $B
req() {
  local m=$1 p=$2 b=${3-}
  if [ -n "$b" ]; then
    curl -s -o "$WORK/body" -w '%{http_code}' -X "$m" -H 'Content-Type: application/json' \
      --data-binary @- "$B$p" <<<"$b"
  else
    curl -s -o "$WORK/body" -w '%{http_code}' -X "$m" "$B$p"
  fi
  printf ' %s' "$(cat "$WORK/body")"
}
expect() { # expect DESCRIPTION STATUS SUBSTRING "RESULT"
  local what=$1 st=$2 sub=$3 got=$4
  CHECKS=$((CHECKS + 1))
  if [ "${got%% *}" = "$st" ] && [[ "$got" == *"$sub"* ]]; then
    echo "ok: $what -> ${got:0:160}"
  else
    fail "$what: want $st with \"$sub\", got: ${got:0:300}"
  fi
}
json_keys() { # json_keys N -> {"keys":["k0",...]}
  python3 -c "import json,sys; print(json.dumps({'keys':['k%d'%i for i in range(int(sys.argv[1]))]}))" "$1"
}
json_items() {
  python3 -c "import json,sys; print(json.dumps([{'key':'k%d'%i,'value':i} for i in range(int(sys.argv[1]))]))" "$1"
}
json_ops() {
  python3 -c "import json,sys; print(json.dumps({'operations':[{'operation':'upsert','request':{'key':'k%d'%i,'value':i}} for i in range(int(sys.argv[1]))]}))" "$1"
}

daemon_start l --default-store-path "$WORK/l.db" --max-key-length 64 --max-bulk-items 5 \
  --max-header-size 8Ki --max-connections 4 --request-timeout 1 --max-body-size 64Ki ||
  { FAILS=1; rel_finish; exit 1; }
B=$BASE_l
k64=$(printf 'k%.0s' $(seq 64))
k65=$(printf 'k%.0s' $(seq 65))
expect "key of 64 bytes (the limit) is served" 204 "" "$(req POST /v1.0/state/statestore "[{\"key\":\"$k64\",\"value\":1}]")"
expect "GET key of 65 bytes" 400 "longer than the limit of 64 (--max-key-length)" "$(req GET /v1.0/state/statestore/$k65)"
expect "save key of 65 bytes" 400 "item 0: key is 65 bytes" "$(req POST /v1.0/state/statestore "[{\"key\":\"$k65\",\"value\":1}]")"
expect "DELETE key of 65 bytes" 400 "--max-key-length" "$(req DELETE /v1.0/state/statestore/$k65)"
expect "bulk get key of 65 bytes" 400 "--max-key-length" "$(req POST /v1.0/state/statestore/bulk "{\"keys\":[\"$k65\"]}")"
expect "transaction key of 65 bytes" 400 "--max-key-length" "$(req POST /v1.0/state/statestore/transaction "{\"operations\":[{\"operation\":\"upsert\",\"request\":{\"key\":\"$k65\",\"value\":1}}]}")"
expect "bulk get of 5 keys (the limit)" 200 '"key":"k4"' "$(req POST /v1.0/state/statestore/bulk "$(json_keys 5)")"
expect "bulk get of 6 keys" 400 "too many keys in one request: 6, the limit is 5 (--max-bulk-items)" "$(req POST /v1.0/state/statestore/bulk "$(json_keys 6)")"
expect "save of 5 items" 204 "" "$(req POST /v1.0/state/statestore "$(json_items 5)")"
expect "save of 6 items" 400 "too many state items in one request: 6" "$(req POST /v1.0/state/statestore "$(json_items 6)")"
expect "transaction of 6 operations" 400 "ERR_STATE_STORE_TOO_MANY_TRANSACTIONS" "$(req POST /v1.0/state/statestore/transaction "$(json_ops 6)")"
expect "transaction of 5 operations" 204 "" "$(req POST /v1.0/state/statestore/transaction "$(json_ops 5)")"
expect "nothing of the refused save was written" 204 "" "$(req GET /v1.0/state/statestore/k5)"
big=$(head -c 70000 /dev/zero | tr '\0' 'x')
expect "body over --max-body-size 64Ki" 413 "ERR_REQUEST_TOO_LARGE" "$(req POST /v1.0/state/statestore "[{\"key\":\"b\",\"value\":\"$big\"}]")"

# header size: one 9 KiB header line does not fit the 8 KiB connection buffer
hdr=$(head -c 9216 /dev/zero | tr '\0' 'h')
got=$(curl -s -o "$WORK/body" -w '%{http_code}' -H "X-Big: $hdr" "$B/v1.0/state/statestore/k1")
expect "request headers over --max-header-size 8Ki" 431 "" "$got $(cat "$WORK/body")"
got=$(curl -s -o /dev/null -w '%{http_code}' -H "X-Small: ${hdr:0:4000}" "$B/v1.0/state/statestore/k1")
expect "request headers within --max-header-size" 200 "" "$got"

# request timeout and connection count, over raw sockets
python3 - "$PORT_l" >"$WORK/raw.out" 2>&1 <<'PY'
import socket, sys, time
port = int(sys.argv[1])
def conn():
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    return s
def read_all(s):
    data = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            data += b
            if b"\r\n\r\n" in data:
                head, _, body = data.partition(b"\r\n\r\n")
                cl = [l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")]
                if not cl or len(body) >= int(cl[0].split(b":")[1]):
                    break
    except socket.timeout:
        pass
    return data.decode("latin-1")
# 1a. a body that completes after --request-timeout 1: 408
s = conn()
s.sendall(b"POST /v1.0/state/statestore HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n[")
time.sleep(1.6)
s.sendall(b"]")
r = read_all(s)
print("TIMEOUT", r.split("\r\n")[0], r[r.find("{"):])
s.close()
# 1b. a body dripped slower than that, never complete: the connection is closed (bounded)
s = conn()
s.sendall(b"POST /v1.0/state/statestore HTTP/1.1\r\nHost: x\r\nContent-Length: 40\r\n\r\n[")
t0 = time.time()
closed = False
for i in range(30):
    time.sleep(0.3)
    try:
        s.sendall(b" ")
    except OSError:
        closed = True
        break
if not closed:
    s.settimeout(3)
    try:
        closed = s.recv(100) == b""
    except OSError:
        closed = True
print("DRIP", "closed" if closed else "open", "after %.1f s" % (time.time() - t0))
s.close()
time.sleep(0.5)  # let the server reap the closed connections before counting
# 2. --max-connections 4: four open connections are served, a fifth gets 503
held = [conn() for _ in range(4)]
for h in held:
    h.sendall(b"GET /v1.0/healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    print("HELD", read_all(h).split("\r\n")[0])
time.sleep(0.2)
s = conn()
s.sendall(b"GET /v1.0/state/statestore/k1 HTTP/1.1\r\nHost: x\r\n\r\n")
r = read_all(s)
print("EXTRA", r.split("\r\n")[0], r[r.find("{"):])
s.close()
for h in held:
    h.close()
time.sleep(0.3)
s = conn()
s.sendall(b"GET /v1.0/healthz HTTP/1.1\r\nHost: x\r\n\r\n")
print("AFTER", read_all(s).split("\r\n")[0])
s.close()
PY
cat "$WORK/raw.out"
expect "body dripped past --request-timeout" 408 "ERR_REQUEST_TIMEOUT" "$(sed -n 's/^TIMEOUT HTTP\/1.1 \([0-9]*\) [^{]*/\1 /p' "$WORK/raw.out")"
CHECKS=$((CHECKS + 1))
if grep -q '^DRIP closed' "$WORK/raw.out" && grep -q 'closing the connection: the request body did not arrive within --request-timeout' "$LOG_l"; then
  echo "ok: a body dripping past --request-timeout: connection closed, reason logged"
else fail "a dripping body was not cut off with a logged reason"; fi
CHECKS=$((CHECKS + 1))
[ "$(grep -c '^HELD HTTP/1.1 204' "$WORK/raw.out")" = 4 ] && echo "ok: 4 connections (the limit) served" ||
  fail "4 connections within --max-connections were not all served"
expect "a 5th connection over --max-connections 4" 503 "ERR_TOO_MANY_CONNECTIONS" "$(sed -n 's/^EXTRA HTTP\/1.1 \([0-9]*\) [^{]*/\1 /p' "$WORK/raw.out")"
CHECKS=$((CHECKS + 1))
grep -q '^AFTER HTTP/1.1 204' "$WORK/raw.out" && echo "ok: served again once connections closed" ||
  fail "not served again after the connections closed"

st=0
daemon_stop "$PID_l" || st=$?
check "daemon exits 0 on SIGTERM" test "$st" -eq 0

# bad flag values are refused with a message naming the flag
for f in "--max-key-length abc" "--max-bulk-items -1" "--max-header-size 1Ki" \
  "--max-header-size 2Mi" "--max-connections 0" "--request-timeout 0"; do
  # shellcheck disable=SC2086
  out=$("$STATESTORED" --dapr-http-port 0 $f 2>&1)
  rc=$?
  CHECKS=$((CHECKS + 1))
  if [ $rc -eq 2 ] && [[ "$out" == *"${f%% *}"* ]]; then echo "ok: $f refused: $out"; else
    fail "$f: exit $rc, $out"; fi
done

# loopback by default: the log names 127.0.0.1 and no other address answers
daemon_start d --default-store-path "$WORK/d.db" || { FAILS=1; rel_finish; exit 1; }
check "listens on 127.0.0.1 by default" grep -q "listening on 127.0.0.1:$PORT_d" "$LOG_d"
other=$(hostname -I 2>/dev/null | awk '{print $1}')
if [ -n "$other" ] && [ "${other#127.}" = "$other" ]; then
  CHECKS=$((CHECKS + 1))
  if curl -s -m 3 -o /dev/null "http://$other:$PORT_d/v1.0/healthz"; then
    fail "answered on $other: not loopback-only"
  else echo "ok: not reachable on $other"; fi
fi
daemon_stop "$PID_d"

# the API token: the right one passes; wrong last byte, a prefix, a longer one do not
DAEMON_ENV_TOKEN=s3cr3t-t0ken-value
DAPR_API_TOKEN=$DAEMON_ENV_TOKEN daemon_start t --default-store-path "$WORK/t.db" ||
  { FAILS=1; rel_finish; exit 1; }
B=$BASE_t
for t in s3cr3t-t0ken-valuf s3cr3t-t0ken-valu s3cr3t-t0ken-value1 ""; do
  got=$(curl -s -o /dev/null -w '%{http_code}' -H "dapr-api-token: $t" "$B/v1.0/state/statestore/k")
  expect "token \"$t\" refused" 401 "" "$got"
done
got=$(curl -s -o /dev/null -w '%{http_code}' -H "dapr-api-token: $DAEMON_ENV_TOKEN" "$B/v1.0/state/statestore/k")
expect "the right token passes" 204 "" "$got"
CHECKS=$((CHECKS + 1))
grep -q "$DAEMON_ENV_TOKEN" "$LOG_t" && fail "the API token appears in the log" || echo "ok: token not in the log"
daemon_stop "$PID_t"
rel_finish
