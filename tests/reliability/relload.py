#!/usr/bin/env python3
"""relload.py — load driver for statestored's reliability tests (standard library only).

  relload.py incr  BASE STORE KEY CLIENTS ROUNDS    no lost update: read-modify-write with ETag
  relload.py write BASE STORE PREFIX ACKFILE COUNT  acknowledged writes, until COUNT or failure
  relload.py check BASE STORE PREFIX ACKFILE        every acknowledged write is there, byte-exact
  relload.py load  BASE STORE SECONDS OUTFILE       steady traffic; one line per request result
  relload.py mix   BASE STORE COUNT CLIENTS         mixed traffic for the soak (fixed count)
  relload.py analyze OUTFILE start=T stop=T cont=T kill=T restart=T end=T BOUND_S

Each client keeps its own keep-alive connection. Every request has a client-side timeout so
nothing here can hang; a test that needs a bound uses the exit status and printed figures.
"""
import http.client
import json
import os
import random
import sys
import threading
import time

TIMEOUT = float(os.environ.get("RELLOAD_TIMEOUT", "30"))


class Conn:
    def __init__(self, base):
        hostport = base.split("//", 1)[1].rstrip("/")
        self.host, port = hostport.rsplit(":", 1)
        self.port = int(port)
        self.c = None
        self.token = os.environ.get("RELLOAD_TOKEN")

    def req(self, method, path, body=None, headers=None):
        """Returns (status, body bytes, headers dict); status 0 when the transfer failed."""
        h = {"Content-Type": "application/json"} if body is not None else {}
        if headers:
            h.update(headers)
        if self.token:
            h["dapr-api-token"] = self.token
        for attempt in range(2):  # a keep-alive connection the server closed: reconnect once
            try:
                if self.c is None:
                    self.c = http.client.HTTPConnection(self.host, self.port, timeout=TIMEOUT)
                self.c.request(method, path, body=body, headers=h)
                r = self.c.getresponse()
                data = r.read()
                hd = {k.lower(): v for k, v in r.getheaders()}
                if hd.get("connection", "").lower() == "close":
                    self.close()
                return r.status, data, hd
            except (ConnectionError, http.client.HTTPException, OSError) as e:
                self.close()
                if attempt == 1 or isinstance(e, TimeoutError):
                    return 0, str(e).encode(), {}
        return 0, b"", {}

    def close(self):
        if self.c is not None:
            self.c.close()
            self.c = None


def incr(base, store, key, clients, rounds):
    ok = [0] * clients
    conflicts = [0] * clients
    errors = []
    path_get = "/v1.0/state/%s/%s" % (store, key)
    path_set = "/v1.0/state/%s" % store
    c0 = Conn(base)
    st, _, _ = c0.req("DELETE", path_get)
    if st != 204:
        print("could not reset the counter: %d" % st)
        return 1
    st, _, _ = c0.req("POST", path_set, json.dumps([{"key": key, "value": 0}]))
    if st != 204:
        print("could not create the counter: %d" % st)
        return 1

    def worker(i):
        c = Conn(base)
        done = 0
        tries = 0
        while done < rounds:
            tries += 1
            if tries > rounds * 200:
                errors.append("client %d: too many conflicts" % i)
                break
            st, data, hd = c.req("GET", path_get)
            if st != 200 or "etag" not in hd:
                errors.append("client %d: GET %d %r" % (i, st, data[:200]))
                break
            v = int(data)
            body = json.dumps([{"key": key, "value": v + 1, "etag": hd["etag"],
                                "options": {"concurrency": "first-write"}}])
            st, data, _ = c.req("POST", path_set, body)
            if st == 204:
                ok[i] += 1
                done += 1
            elif st == 409:
                conflicts[i] += 1
            else:
                errors.append("client %d: save %d %r" % (i, st, data[:200]))
                break
        c.close()

    t0 = time.time()
    ts = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    st, data, _ = c0.req("GET", path_get)
    final = int(data) if st == 200 else -1
    total = sum(ok)
    print("store %s: %d clients x %d increments: %d successful writes, %d conflicts (409) "
          "retried, final counter %d, lost %d, %.1f s"
          % (store, clients, rounds, total, sum(conflicts), final, total - final, time.time() - t0))
    for e in errors[:10]:
        print("  error: " + e)
    return 0 if not errors and final == total and total == clients * rounds else 1


def value_for(prefix, i):
    # awkward bytes on purpose: big integer, trailing zero, escapes, unicode
    return ('{"i":%d,"big":123456789012345678901234567890,"f":1.10,"s":"a\\"b\\\\c\\u00e9 %s",'
            '"pad":"%s"}' % (i, prefix, "x" * (i % 300)))


def write(base, store, prefix, ackfile, count):
    c = Conn(base)
    acked = 0
    with open(ackfile, "a") as ack:
        for i in range(count):
            key = "%s-%d" % (prefix, i)
            body = '[{"key":"%s","value":%s}]' % (key, value_for(prefix, i))
            st, data, _ = c.req("POST", "/v1.0/state/%s" % store, body)
            if st != 204:
                print("write %s: status %d %r (stopping)" % (key, st, data[:200]))
                break
            ack.write("%d\n" % i)
            ack.flush()  # the test process survives the daemon's kill; no fsync needed
            acked += 1
    print("acknowledged writes: %d" % acked)
    return 0


def check(base, store, prefix, ackfile):
    c = Conn(base)
    with open(ackfile) as f:
        ids = [int(x) for x in f.read().split()]
    lost = 0
    for i in ids:
        key = "%s-%d" % (prefix, i)
        st, data, _ = c.req("GET", "/v1.0/state/%s/%s" % (store, key))
        if st != 200 or data != value_for(prefix, i).encode():
            lost += 1
            if lost <= 5:
                print("LOST %s: status %d body %r" % (key, st, data[:120]))
    print("acknowledged writes checked: %d, lost or changed: %d" % (len(ids), lost))
    return 0 if lost == 0 else 1


def load(base, store, seconds, outfile):
    """One client: save+get in a loop; logs 'elapsed_s status latency_s message' per request."""
    c = Conn(base)
    end = time.time() + seconds
    i = 0
    with open(outfile, "w") as out:
        while time.time() < end:
            i += 1
            key = "load-%d" % (i % 50)
            t0 = time.time()
            if i % 2:
                st, data, _ = c.req("POST", "/v1.0/state/%s" % store,
                                    '[{"key":"%s","value":%d}]' % (key, i))
            else:
                st, data, _ = c.req("GET", "/v1.0/state/%s/%s" % (store, key))
            dt = time.time() - t0
            msg = ""
            if st >= 500 or st == 0:
                msg = data.decode("utf-8", "replace").replace("\n", " ")[:300]
            out.write("%.3f %d %.3f %s\n" % (t0, st, dt, msg))
            out.flush()
            if st >= 500 or st == 0:
                time.sleep(0.05)
    return 0


def mix(base, store, count, clients):
    per = count // clients
    bad = []

    def worker(n):
        c = Conn(base)
        rnd = random.Random(n)
        for i in range(per):
            k = "soak-%d-%d" % (n, rnd.randrange(200))
            op = rnd.randrange(10)
            if op < 4:
                st, d, _ = c.req("POST", "/v1.0/state/%s" % store,
                                 json.dumps([{"key": k, "value": {"n": i, "p": "y" * rnd.randrange(2000)}}]))
                want = (204,)
            elif op < 7:
                st, d, _ = c.req("GET", "/v1.0/state/%s/%s" % (store, k))
                want = (200, 204)
            elif op < 8:
                st, d, _ = c.req("DELETE", "/v1.0/state/%s/%s" % (store, k))
                want = (204,)
            elif op < 9:
                st, d, _ = c.req("POST", "/v1.0/state/%s/bulk" % store,
                                 json.dumps({"keys": [k, k + "x", "soak-0-1"]}))
                want = (200,)
            else:
                st, d, _ = c.req("POST", "/v1.0/state/%s/transaction" % store, json.dumps(
                    {"operations": [{"operation": "upsert", "request": {"key": k, "value": i}},
                                    {"operation": "delete", "request": {"key": k + "t"}}]}))
                want = (204,)
            if st not in want:
                bad.append("%d %r" % (st, d[:200]))
            if rnd.randrange(50) == 0:
                c.close()  # new connections too, not only keep-alive
        c.close()

    ts = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    for b in bad[:5]:
        print("  unexpected: " + b)
    print("mixed requests: %d, unexpected answers: %d" % (per * clients, len(bad)))
    return 0 if not bad else 1


def analyze(outfile, events, bound):
    """events: 'name=epoch' in order stop, cont, kill, restart, end. Checks that no request
    took longer than `bound` seconds or failed without an answer, that faults were answered
    500 naming the cause, and that service came back after each recovery."""
    ev = dict(e.split("=") for e in events)
    ev = {k: float(v) for k, v in ev.items()}
    rows = []
    with open(outfile) as f:
        for line in f:
            p = line.rstrip("\n").split(" ", 3)
            rows.append((float(p[0]), int(p[1]), float(p[2]), p[3] if len(p) > 3 else ""))
    bad = []
    maxlat = max((r[2] for r in rows), default=0)
    if maxlat > bound:
        bad.append("slowest request %.2f s > bound %.1f s" % (maxlat, bound))
    if any(r[1] == 0 for r in rows):
        bad.append("%d requests got no HTTP answer" % sum(1 for r in rows if r[1] == 0))
    causes = ("timed out", "timeout", "unavailable", "connect", "refused")

    def window(a, b):
        return [r for r in rows if ev[a] <= r[0] < ev[b]]

    def report(name, a, b, fault):
        w = window(a, b)
        n5 = [r for r in w if r[1] == 500]
        ok = [r for r in w if 200 <= r[1] < 300]
        named = [r for r in n5 if any(c in r[3].lower() for c in causes)]
        print("  %-22s %4d requests: %4d ok, %4d x 500 (%d naming the cause), slowest %.2f s"
              % (name, len(w), len(ok), len(n5), len(named), max((r[2] for r in w), default=0)))
        if fault:
            if not n5:
                bad.append("%s: no request failed while the server was down" % name)
            elif len(named) != len(n5):
                bad.append("%s: a 500 does not name the cause: %s" % (name, [r[3] for r in n5 if r not in named][:1]))
            else:
                print("    e.g. " + n5[0][3][:240])
            if any(r[1] not in (500,) and not 200 <= r[1] < 300 for r in w):
                bad.append("%s: unexpected statuses %s" % (name, sorted({r[1] for r in w})))
        else:
            # requests still running when the next fault hit belong to that fault
            tail = [r for r in w if r[0] + r[2] < ev[b] - 0.2][-5:]
            if len(tail) < 5 or any(not 200 <= r[1] < 300 for r in tail):
                bad.append("%s: service did not come back (last answers %s)" % (name, [r[1] for r in tail]))

    report("before", "start", "stop", False)
    report("SIGSTOP", "stop", "cont", True)
    report("after SIGCONT", "cont", "kill", False)
    report("killed", "kill", "restart", True)
    report("after restart", "restart", "end", False)
    for b in bad:
        print("  FAULT TEST FAILED: " + b)
    return 0 if not bad else 1


def main(a):
    if len(a) < 2:
        print(__doc__)
        return 2
    m = a[1]
    if m == "incr":
        return incr(a[2], a[3], a[4], int(a[5]), int(a[6]))
    if m == "write":
        return write(a[2], a[3], a[4], a[5], int(a[6]))
    if m == "check":
        return check(a[2], a[3], a[4], a[5])
    if m == "load":
        return load(a[2], a[3], float(a[4]), a[5])
    if m == "analyze":
        return analyze(a[2], a[3:-1], float(a[-1]))
    if m == "mix":
        return mix(a[2], a[3], int(a[4]), int(a[5]))
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
