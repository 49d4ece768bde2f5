#!/usr/bin/python3
"""statestored's gRPC API through a second, independent client stack: Debian's python3-grpcio
(the C-core gRPC library) with stubs generated from the repository's .proto at test time.

usage: test_grpc.py <statestored> <proto dir> <sqlite|redis|memory>
Checks status codes as daprd gives them, metadata, the API token, the message size limit, huge
and malformed messages, multiplexing on one connection. Exit 77 (skip) when a requirement is
missing, printing why.
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

DAEMON, PROTO_DIR, STORE = sys.argv[1], sys.argv[2], sys.argv[3]
del sys.argv[1:4]


def skip(why):
    print("SKIP: " + why)
    sys.exit(77)


try:
    import grpc
    from grpc_tools import protoc
except ImportError as e:
    skip(f"python3-grpcio / python3-grpc-tools missing ({e})")
if STORE == "redis" and not os.environ.get("SS_TEST_REDIS_ADDR"):
    skip("SS_TEST_REDIS_ADDR is not set (start scripts/services/redis.sh)")

WORK = tempfile.mkdtemp(prefix="ss-grpc-")
STUBS = os.path.join(WORK, "stubs")
os.makedirs(STUBS)
WKT = os.path.join(os.path.dirname(protoc.__file__), "_proto")
rc = protoc.main(["protoc", f"-I{PROTO_DIR}", f"-I{WKT}", f"--python_out={STUBS}",
                  f"--grpc_python_out={STUBS}", "dapr/proto/common/v1/common.proto",
                  "dapr/proto/runtime/v1/state.proto", "dapr/proto/runtime/v1/dapr.proto"])
if rc != 0:
    print(f"FAIL: protoc on {PROTO_DIR} exited {rc}")
    sys.exit(1)
sys.path.insert(0, STUBS)
from dapr.proto.common.v1 import common_pb2 as cpb  # noqa: E402
from dapr.proto.runtime.v1 import dapr_pb2_grpc  # noqa: E402
from dapr.proto.runtime.v1 import state_pb2 as pb  # noqa: E402

SC = grpc.StatusCode
APP_ID = f"grpc-test-{os.getpid()}"
TOKEN = "s3cret-token"


def component(name):
    if STORE == "sqlite":
        t, md = "state.sqlite", [("connectionString", os.path.join(WORK, name + ".db"))]
    elif STORE == "redis":
        t, md = "state.redis", [("redisHost", os.environ["SS_TEST_REDIS_ADDR"])]
    else:
        t, md = "state.in-memory", []
    lines = ["apiVersion: dapr.io/v1alpha1", "kind: Component", "metadata:", f"  name: {name}",
             "spec:", f"  type: {t}", "  version: v1", "  metadata:" + ("" if md else " []")]
    for k, v in md:
        lines += [f"  - name: {k}", f"    value: {v}"]
    return "\n".join(lines) + "\n"


class Daemon:
    """One statestored on free ports, stopped with SIGTERM (a clean exit is checked)."""

    def __init__(self, tag, extra_args=(), token=None):
        self.dir = os.path.join(WORK, tag)
        os.makedirs(os.path.join(self.dir, "res"))
        with open(os.path.join(self.dir, "res", "statestore.yaml"), "w") as f:
            f.write(component("statestore"))
        env = dict(os.environ)
        env.pop("DAPR_API_TOKEN", None)
        if token:
            env["DAPR_API_TOKEN"] = token
        self.log = os.path.join(self.dir, "daemon.log")
        logf = open(self.log, "w")
        self.proc = subprocess.Popen(
            [DAEMON, "--dapr-http-port", "0", "--dapr-grpc-port", "0", "--resources-path",
             os.path.join(self.dir, "res"), "--app-id", APP_ID, "--log-level", "debug",
             *extra_args], stdout=logf, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, env=env)
        logf.close()
        self.port = None
        deadline = time.time() + 20
        while time.time() < deadline and self.port is None:
            with open(self.log) as f:
                m = re.search(r"gRPC API on grpc://127\.0\.0\.1:(\d+)", f.read())
            if m:
                self.port = int(m.group(1))
            elif self.proc.poll() is not None:
                break
            else:
                time.sleep(0.05)
        if self.port is None:
            self.proc.kill()
            raise RuntimeError("statestored did not start:\n" + open(self.log).read())
        self.target = f"127.0.0.1:{self.port}"

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = "timeout"
        if rc != 0:
            raise RuntimeError(f"statestored exited {rc} after SIGTERM:\n" + open(self.log).read())


def raw(channel, method):
    """A call that sends and returns raw bytes, for malformed input."""
    return channel.unary_unary(method, request_serializer=None, response_deserializer=None)


class DaemonCase(unittest.TestCase):
    """Tests against one daemon started for the class, with one channel to it."""
    tag, args, token = "main", (), None

    @classmethod
    def setUpClass(cls):
        cls.d = Daemon(cls.tag, cls.args, cls.token)
        cls.ch = grpc.insecure_channel(cls.d.target)
        cls.stub = dapr_pb2_grpc.DaprStub(cls.ch)

    @classmethod
    def tearDownClass(cls):
        cls.ch.close()
        cls.d.stop()


class GrpcApi(DaemonCase):

    def code(self, fn, req, code, pattern=None, **kw):
        with self.assertRaises(grpc.RpcError) as cm:
            fn(req, timeout=30, **kw)
        e = cm.exception
        self.assertEqual(e.code(), code, e.details())
        if pattern:
            self.assertRegex(e.details(), pattern)
        return e

    def save(self, key, value, **kw):
        self.stub.SaveState(pb.SaveStateRequest(
            store_name="statestore", states=[cpb.StateItem(key=key, value=value, **kw)]),
            timeout=30)

    def get(self, key):
        return self.stub.GetState(pb.GetStateRequest(store_name="statestore", key=key), timeout=30)

    def test_metadata(self):
        md = self.stub.GetMetadata(pb.GetMetadataRequest(), timeout=30)
        self.assertEqual(md.id, APP_ID)
        comps = {c.name: c for c in md.registered_components}
        self.assertIn("statestore", comps)
        expect_type = {"sqlite": "state.sqlite", "redis": "state.redis",
                       "memory": "state.in-memory"}[STORE]
        self.assertEqual(comps["statestore"].type, expect_type)
        self.assertIn("ETAG", comps["statestore"].capabilities)
        self.assertIn("daprRuntimeVersion", md.extended_metadata)

    def test_roundtrip_bytes_exact(self):
        value = bytes(range(256)) + b"\x00\xff not utf-8 \xc3\x28"
        self.save("bin", value)
        r, call = self.stub.GetState.with_call(
            pb.GetStateRequest(store_name="statestore", key="bin"), timeout=30)
        self.assertEqual(r.data, value)
        self.assertTrue(r.etag)
        self.assertEqual(call.code(), SC.OK)
        self.assertFalse(call.details())

    def test_missing_key_is_ok_and_empty(self):
        r = self.get("never-written")
        self.assertEqual(r.data, b"")
        self.assertEqual(r.etag, "")

    def test_keys_any_characters(self):
        for key in ["a/b c", "ключ", "with:colon%25", "'\"\\"]:
            self.save(key, key.encode())
            self.assertEqual(self.get(key).data, key.encode())

    def test_unknown_store_and_bad_key(self):
        self.code(self.stub.GetState, pb.GetStateRequest(store_name="nope", key="k"),
                  SC.INVALID_ARGUMENT, "^state store nope is not found$")
        self.code(self.stub.SaveState, pb.SaveStateRequest(
            store_name="nope", states=[cpb.StateItem(key="k", value=b"1")]),
            SC.INVALID_ARGUMENT, "not found")
        # grpc-message is percent-encoded on the wire: non-ASCII comes back intact
        self.code(self.stub.GetState, pb.GetStateRequest(store_name="statestore", key="ключ||x"),
                  SC.INVALID_ARGUMENT, "^input key/keyPrefix 'ключ\\|\\|x' can't contain '\\|\\|'$")
        self.code(self.stub.GetState, pb.GetStateRequest(store_name="statestore", key=""),
                  SC.INVALID_ARGUMENT, "required")

    def test_etag_rules(self):
        self.save("et", b"v1")
        etag = self.get("et").etag
        self.code(self.stub.SaveState, pb.SaveStateRequest(store_name="statestore", states=[
            cpb.StateItem(key="et", value=b"v2", etag=cpb.Etag(value=etag + "0"))]),
            SC.ABORTED, "etag mismatch")
        self.assertEqual(self.get("et").data, b"v1")
        self.save("et", b"v2", etag=cpb.Etag(value=etag))
        self.assertEqual(self.get("et").data, b"v2")
        self.code(self.stub.DeleteState, pb.DeleteStateRequest(
            store_name="statestore", key="et", etag=cpb.Etag(value=etag)), SC.ABORTED)
        # an ETag the store cannot parse: Redis versions are integers; SQLite and memory
        # ETags are opaque strings, so there it is a plain mismatch
        bad = self.code(self.stub.SaveState, pb.SaveStateRequest(store_name="statestore", states=[
            cpb.StateItem(key="et", value=b"v3", etag=cpb.Etag(value="not-an-etag"))]),
            SC.INVALID_ARGUMENT if STORE == "redis" else SC.ABORTED)
        self.assertIn("etag", bad.details())
        # first-write: an existing key without ETag is a conflict
        first = cpb.StateOptions(concurrency=cpb.StateOptions.CONCURRENCY_FIRST_WRITE)
        self.code(self.stub.SaveState, pb.SaveStateRequest(store_name="statestore", states=[
            cpb.StateItem(key="et", value=b"v4", options=first)]), SC.ABORTED)
        now = self.get("et").etag
        self.stub.DeleteState(pb.DeleteStateRequest(
            store_name="statestore", key="et", etag=cpb.Etag(value=now)), timeout=30)
        self.assertEqual(self.get("et").data, b"")
        # deleting a missing key without ETag succeeds
        self.stub.DeleteState(pb.DeleteStateRequest(store_name="statestore", key="et"), timeout=30)

    def test_bulk_get_order_and_parallelism(self):
        keys = [f"bulk-{i}" for i in range(60)]
        self.stub.SaveState(pb.SaveStateRequest(store_name="statestore", states=[
            cpb.StateItem(key=k, value=k.encode()) for k in keys[::2]]), timeout=30)
        for par in (0, 1, 7, 100):
            r = self.stub.GetBulkState(pb.GetBulkStateRequest(
                store_name="statestore", keys=keys, parallelism=par), timeout=30)
            self.assertEqual([i.key for i in r.items], keys)
            for n, it in enumerate(r.items):
                self.assertEqual(it.data, keys[n].encode() if n % 2 == 0 else b"")
                self.assertEqual(it.error, "")
                self.assertEqual(bool(it.etag), n % 2 == 0)
        self.code(self.stub.GetBulkState, pb.GetBulkStateRequest(
            store_name="statestore", keys=["ok", "no||pe"]), SC.INVALID_ARGUMENT, "keys\\[1\\]")
        self.stub.DeleteBulkState(pb.DeleteBulkStateRequest(store_name="statestore", states=[
            cpb.StateItem(key=k) for k in keys]), timeout=30)
        r = self.stub.GetBulkState(pb.GetBulkStateRequest(store_name="statestore", keys=keys),
                                   timeout=30)
        self.assertTrue(all(i.data == b"" for i in r.items))

    def test_transaction(self):
        self.save("tx-old", b"old")
        op = pb.TransactionalStateOperation
        self.stub.ExecuteStateTransaction(pb.ExecuteStateTransactionRequest(
            storeName="statestore", operations=[
                op(operationType="upsert", request=cpb.StateItem(key="tx-1", value=b"1")),
                op(operationType="delete", request=cpb.StateItem(key="tx-old"))]), timeout=30)
        self.assertEqual(self.get("tx-1").data, b"1")
        self.assertEqual(self.get("tx-old").data, b"")
        # a failing ETag inside: Internal, and nothing applied
        self.code(self.stub.ExecuteStateTransaction, pb.ExecuteStateTransactionRequest(
            storeName="statestore", operations=[
                op(operationType="upsert", request=cpb.StateItem(key="tx-2", value=b"2")),
                op(operationType="delete",
                   request=cpb.StateItem(key="tx-1", etag=cpb.Etag(value="stale")))]),
            SC.INTERNAL, "^error while executing state transaction: ")
        self.assertEqual(self.get("tx-2").data, b"")
        self.assertEqual(self.get("tx-1").data, b"1")
        self.code(self.stub.ExecuteStateTransaction, pb.ExecuteStateTransactionRequest(
            storeName="statestore", operations=[op(operationType="merge",
                                                   request=cpb.StateItem(key="x"))]),
            SC.UNIMPLEMENTED, "^operation type merge not supported$")
        self.code(self.stub.ExecuteStateTransaction, pb.ExecuteStateTransactionRequest(
            storeName="nope"), SC.INVALID_ARGUMENT)

    def test_query_and_unknown_methods(self):
        self.code(self.stub.QueryStateAlpha1, pb.QueryStateRequest(
            store_name="statestore", query="{}"), SC.UNIMPLEMENTED, "doesn't support query")
        self.code(raw(self.ch, "/dapr.proto.runtime.v1.Dapr/InvokeService"), b"",
                  SC.UNIMPLEMENTED, "unknown method InvokeService")
        self.code(raw(self.ch, "/grpc.health.v1.Health/Check"), b"", SC.UNIMPLEMENTED,
                  "unknown service grpc.health.v1.Health")

    def test_malformed_messages(self):
        get = raw(self.ch, "/dapr.proto.runtime.v1.Dapr/GetState")
        for junk in [b"\xff\xff\xff\xff", b"\x0a\x10short", b"\x12\x05\xc3\x28", b"\x08"]:
            e = self.code(get, junk, SC.INTERNAL, "error unmarshalling request")
            self.assertIn("GetStateRequest", e.details())
        # the connection survives bad messages
        self.assertEqual(self.get("never-written").data, b"")

    def test_compressed_request_is_refused(self):
        # large and compressible, so the client does compress it (it skips small messages)
        self.code(self.stub.SaveState, pb.SaveStateRequest(store_name="statestore", states=[
            cpb.StateItem(key="gz", value=b"a" * 100000)]), SC.UNIMPLEMENTED,
            'grpc-encoding "gzip"', compression=grpc.Compression.Gzip)
        self.assertEqual(self.get("gz").data, b"")

    def test_huge_messages(self):
        # over the 4 MiB default: refused before the body is stored, connection kept
        self.code(self.stub.SaveState, pb.SaveStateRequest(store_name="statestore", states=[
            cpb.StateItem(key="huge", value=b"x" * (5 << 20))]), SC.RESOURCE_EXHAUSTED,
            "larger than max .* vs. 4194304")
        self.assertEqual(self.get("huge").data, b"")
        # just under it: stored and read back whole
        big = os.urandom((4 << 20) - 1024)
        self.save("big", big)
        self.assertEqual(self.get("big").data, big)

    def test_multiplexing_one_connection(self):
        n = 300  # more than the advertised 256 concurrent streams: the client queues the rest
        futs = [self.stub.SaveState.future(pb.SaveStateRequest(store_name="statestore", states=[
            cpb.StateItem(key=f"mx-{i}", value=str(i).encode())]), timeout=60) for i in range(n)]
        for f in futs:
            f.result()
        futs = [self.stub.GetState.future(pb.GetStateRequest(
            store_name="statestore", key=f"mx-{i}"), timeout=60) for i in range(n)]
        self.assertEqual([f.result().data for f in futs], [str(i).encode() for i in range(n)])

    def test_many_connections_in_threads(self):
        errors = []

        def worker(t):
            try:
                with grpc.insecure_channel(self.d.target) as ch:
                    st = dapr_pb2_grpc.DaprStub(ch)
                    for i in range(20):
                        k = f"th-{t}-{i}"
                        st.SaveState(pb.SaveStateRequest(store_name="statestore", states=[
                            cpb.StateItem(key=k, value=k.encode())]), timeout=30)
                        if st.GetState(pb.GetStateRequest(store_name="statestore", key=k),
                                       timeout=30).data != k.encode():
                            errors.append(k)
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(repr(e))

        ts = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        self.assertEqual(errors, [])

    def test_not_grpc_content_type_gets_415(self):
        nghttp = shutil.which("nghttp")
        if not nghttp:
            self.skipTest("nghttp (nghttp2-client) not installed")
        body = os.path.join(WORK, "body.txt")
        with open(body, "wb") as f:
            f.write(b"hello")
        out = subprocess.run([nghttp, "-v", "-H", "content-type: text/plain", "-d", body,
                              f"http://{self.d.target}/dapr.proto.runtime.v1.Dapr/GetState"],
                             capture_output=True, text=True, timeout=30).stdout
        self.assertRegex(out, r":status: 415")
        # and the server's SETTINGS (the first one received, not the client's own): at least
        # 100 concurrent streams, large windows
        m = re.search(r"recv SETTINGS frame <[^>]*>\s*\(niv=\d+\)((?:\s*\[[^\]]*\])*)", out)
        self.assertTrue(m, out[:3000])
        settings = dict(re.findall(r"\[(SETTINGS_\w+)\(0x..\):(\d+)\]", m.group(1)))
        self.assertGreaterEqual(int(settings.get("SETTINGS_MAX_CONCURRENT_STREAMS", 0)), 100)
        self.assertGreaterEqual(int(settings.get("SETTINGS_INITIAL_WINDOW_SIZE", 0)), 1 << 20)


class Limits(DaemonCase):
    """A daemon with an API token and a 1 MiB limit."""
    tag, args, token = "limits", ("--max-body-size", "1Mi"), TOKEN

    def test_api_token(self):
        req = pb.GetStateRequest(store_name="statestore", key="k")
        for md in [None, [("dapr-api-token", "wrong")], [("dapr-api-token", TOKEN + "x")]]:
            with self.assertRaises(grpc.RpcError) as cm:
                self.stub.GetState(req, metadata=md, timeout=30)
            self.assertEqual(cm.exception.code(), SC.UNAUTHENTICATED)
            self.assertIn("authentication error", cm.exception.details())
        with self.assertRaises(grpc.RpcError) as cm:
            self.stub.GetMetadata(pb.GetMetadataRequest(), timeout=30)
        self.assertEqual(cm.exception.code(), SC.UNAUTHENTICATED)
        self.assertEqual(self.stub.GetState(req, metadata=[("dapr-api-token", TOKEN)],
                                            timeout=30).data, b"")

    def test_max_body_size(self):
        tok = [("dapr-api-token", TOKEN)]
        with self.assertRaises(grpc.RpcError) as cm:
            self.stub.SaveState(pb.SaveStateRequest(store_name="statestore", states=[
                cpb.StateItem(key="k", value=b"x" * (2 << 20))]), metadata=tok, timeout=30)
        self.assertEqual(cm.exception.code(), SC.RESOURCE_EXHAUSTED)
        self.assertIn("vs. 1048576", cm.exception.details())
        v = b"y" * (900 << 10)
        self.stub.SaveState(pb.SaveStateRequest(store_name="statestore", states=[
            cpb.StateItem(key="k", value=v)]), metadata=tok, timeout=30)
        self.assertEqual(self.stub.GetState(pb.GetStateRequest(store_name="statestore", key="k"),
                                            metadata=tok, timeout=30).data, v)


if __name__ == "__main__":
    try:
        ok = unittest.main(verbosity=2, exit=False).result.wasSuccessful()
    finally:
        shutil.rmtree(WORK, ignore_errors=True)
    sys.exit(0 if ok else 1)
