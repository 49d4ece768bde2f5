#!/usr/bin/python3
"""The reference side of bench/cassandra_bench.c: python3-cassandra (the DataStax Python driver,
Debian's package), the most direct independent Cassandra client on the test machines, doing the
same work as the statestore driver on the same table: prepared SELECT/UPDATE at consistency ONE,
protocol v4, and bulk x100 as 100 concurrent EXECUTEs (execute_concurrent_with_args, the
driver's own pipelining). Prints one line per workload: "<name> <ops per second>".

usage: cassandra_ref.py HOST PORT USER PASSWORD KEYSPACE TABLE ITERATIONS
"""
import sys
import time

from cassandra import ConsistencyLevel
from cassandra.auth import PlainTextAuthProvider
from cassandra.cluster import Cluster, ExecutionProfile, EXEC_PROFILE_DEFAULT
from cassandra.concurrent import execute_concurrent_with_args


def main():
    host, port, user, pw, ks, table, iters = sys.argv[1:8]
    port, iters = int(port), int(iters)
    auth = PlainTextAuthProvider(user, pw) if user else None
    profile = ExecutionProfile(consistency_level=ConsistencyLevel.ONE)
    cluster = Cluster([host], port=port, auth_provider=auth, protocol_version=4,
                      execution_profiles={EXEC_PROFILE_DEFAULT: profile})
    s = cluster.connect()
    get = s.prepare(f"SELECT value, etag, TTL(value) FROM {ks}.{table} WHERE key = ?")
    put = s.prepare(f"UPDATE {ks}.{table} USING TTL ? SET value = ?, etag = ? WHERE key = ?")
    value = b"v" * 100
    etag = "123e4567-e89b-12d3-a456-426614174000"
    # 200 keys visited as bench/driver_side.h visits them: get (i * 7) % 200, set i % 200, bulk
    # windows of 100 from (i * 100) % 100.
    keys = [f"benchraw-key-{k:03d}" for k in range(200)]
    for k in keys:
        s.execute(put, (0, value, etag, k))

    def timed(name, n, per, fn):
        for i in range(max(1, n // 10)):
            fn(i)
        t0 = time.monotonic()
        for i in range(n):
            fn(i)
        dt = time.monotonic() - t0
        print(f"{name} {n * per / dt:.0f}", flush=True)

    timed("get", iters, 1, lambda i: s.execute(get, (keys[(i * 7) % 200],)).one())
    timed("set", iters, 1, lambda i: s.execute(put, (0, value, etag, keys[i % 200])))
    bit = iters // 10 + 1
    timed("bulk_get", bit, 100,
          lambda i: [r.one() for ok, r in execute_concurrent_with_args(
              s, get, [(k,) for k in keys[(i * 100) % 100:][:100]], concurrency=100)])
    timed("bulk_set", bit, 100,
          lambda i: execute_concurrent_with_args(
              s, put, [(0, value, etag, k) for k in keys[(i * 100) % 100:][:100]],
              concurrency=100))
    cluster.shutdown()


if __name__ == "__main__":
    main()
