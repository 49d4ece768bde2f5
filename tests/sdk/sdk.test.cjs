// The official Dapr JS SDK (@dapr/dapr) against statestored, unchanged: the client only knows
// it talks to "a Dapr sidecar" on DAPR_HTTP_PORT, or in gRPC mode (SS_SDK_PROTOCOL=grpc) on
// DAPR_GRPC_PORT. The same cases run in both modes; where the SDK itself differs (HTTP returns
// failures as {error}, gRPC throws them), `fails` accepts each mode's way.
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const { DaprClient, CommunicationProtocolEnum, LogLevel } = require("@dapr/dapr");

const STORE = process.env.SS_SDK_STORE || "statestore";

const GRPC = process.env.SS_SDK_PROTOCOL === "grpc";

function client() {
  return new DaprClient({
    daprHost: "127.0.0.1",
    daprPort: GRPC ? process.env.DAPR_GRPC_PORT : process.env.DAPR_HTTP_PORT,
    communicationProtocol: GRPC ? CommunicationProtocolEnum.GRPC : CommunicationProtocolEnum.HTTP,
    logger: { level: LogLevel.Error },
  });
}

// A failed save or delete: HTTP mode returns {error} naming the status (409 for an ETag
// conflict); gRPC mode throws a ConnectError with the gRPC code (Aborted for an ETag conflict).
async function fails(call, httpStatus, grpcCode) {
  let r;
  try {
    r = await call;
  } catch (e) {
    assert.ok(GRPC, `HTTP mode returned a rejection instead of {error}: ${e}`);
    assert.equal(e.code, grpcCode, `gRPC code of: ${e.message}`);
    return;
  }
  assert.ok(!GRPC, `gRPC mode resolved instead of failing: ${JSON.stringify(r)}`);
  assert.ok(r && r.error, "the failure must be reported as an error");
  assert.match(String(r.error.message), new RegExp(String(httpStatus)));
}

const ABORTED = 10;

// SDK 3.18 in gRPC mode copies options into the protobuf enums as given and passes transaction
// values to Buffer.from, so there it needs the enum numbers (common.v1.StateOptions) and JSON
// text; HTTP mode takes the names and plain values. The server sees the same request either way.
const STRONG = GRPC ? 2 : "strong";
const FIRST_WRITE = GRPC ? 1 : "first-write";
const txValue = (v) => (GRPC ? JSON.stringify(v) : v);

test("the SDK starts against statestored (GET /v1.0/metadata)", async () => {
  const c = client();
  await c.start();
  const md = await c.metadata.get();
  assert.ok(md.components.some((x) => x.name === STORE), JSON.stringify(md));
  assert.equal(await c.health.isHealthy(), true);
  await c.stop();
});

test("save, get, getBulk", async () => {
  const c = client();
  const r = await c.state.save(STORE, [
    { key: "sdk-k1", value: { a: 1, nested: { b: [1, 2, 3] } } },
    { key: "sdk-k2", value: "plain string" },
    { key: "sdk-k3", value: 42 },
  ]);
  assert.deepEqual(r, {}, JSON.stringify(r));
  assert.deepEqual(await c.state.get(STORE, "sdk-k1"), { a: 1, nested: { b: [1, 2, 3] } });
  assert.equal(await c.state.get(STORE, "sdk-k2"), "plain string");
  assert.equal(await c.state.get(STORE, "sdk-k3"), 42);
  assert.equal(await c.state.get(STORE, "sdk-missing"), "");

  const bulk = await c.state.getBulk(STORE, ["sdk-k1", "sdk-missing", "sdk-k2"]);
  assert.equal(bulk.length, 3);
  assert.deepEqual(bulk.map((x) => x.key), ["sdk-k1", "sdk-missing", "sdk-k2"]);
  assert.deepEqual(bulk[0].data, { a: 1, nested: { b: [1, 2, 3] } });
  assert.ok(typeof bulk[0].etag === "string" && bulk[0].etag.length > 0);
  // gRPC mode turns a missing item's empty bytes into ""
  assert.equal(bulk[1].data, GRPC ? "" : undefined);
  assert.equal(bulk[2].data, "plain string");
  await c.stop();
});

test("save with metadata and options", async () => {
  const c = client();
  const r = await c.state.save(
    STORE,
    [{ key: "sdk-opt", value: "v", options: { consistency: STRONG, concurrency: FIRST_WRITE } }],
    { metadata: { ttlInSeconds: "3600" } },
  );
  assert.deepEqual(r, {}, JSON.stringify(r));
  assert.equal(await c.state.get(STORE, "sdk-opt", { consistency: STRONG }), "v");
  await c.stop();
});

test("ETag conflict surfaces as an error; the right ETag works", async () => {
  const c = client();
  // a stale ETag in the store's own format (Redis versions are numbers: a made-up string
  // would be an invalid ETag there, a different error)
  await c.state.save(STORE, [{ key: "sdk-etag", value: "v0" }]);
  const [old] = await c.state.getBulk(STORE, ["sdk-etag"]);
  await c.state.save(STORE, [{ key: "sdk-etag", value: "v1" }]);
  const [item] = await c.state.getBulk(STORE, ["sdk-etag"]);
  const etag = item.etag;
  assert.ok(etag);
  assert.notEqual(old.etag, etag);

  await fails(
    c.state.save(STORE, [{ key: "sdk-etag", value: "v2", etag: old.etag }]),
    409,
    ABORTED,
  );
  assert.equal(await c.state.get(STORE, "sdk-etag"), "v1");

  const good = await c.state.save(STORE, [{ key: "sdk-etag", value: "v2", etag }]);
  assert.deepEqual(good, {}, JSON.stringify(good));
  assert.equal(await c.state.get(STORE, "sdk-etag"), "v2");

  // delete with the old (now stale) ETag fails, then with the current one succeeds
  await fails(c.state.delete(STORE, "sdk-etag", { etag }), 409, ABORTED);
  assert.equal(await c.state.get(STORE, "sdk-etag"), "v2");
  const [now] = await c.state.getBulk(STORE, ["sdk-etag"]);
  const del = await c.state.delete(STORE, "sdk-etag", { etag: now.etag });
  assert.deepEqual(del, {}, JSON.stringify(del));
  assert.equal(await c.state.get(STORE, "sdk-etag"), "");
  await c.stop();
});

test("delete without ETag", async () => {
  const c = client();
  await c.state.save(STORE, [{ key: "sdk-del", value: 1 }]);
  assert.deepEqual(await c.state.delete(STORE, "sdk-del"), {});
  assert.equal(await c.state.get(STORE, "sdk-del"), "");
  assert.deepEqual(await c.state.delete(STORE, "sdk-del"), {}, "deleting a missing key succeeds");
  await c.stop();
});

test("transaction", async () => {
  const c = client();
  await c.state.save(STORE, [{ key: "sdk-t3", value: "old" }]);
  await c.state.transaction(
    STORE,
    [
      { operation: "upsert", request: { key: "sdk-t1", value: txValue({ x: 1 }) } },
      { operation: "upsert", request: { key: "sdk-t2", value: txValue("y") } },
      { operation: "delete", request: { key: "sdk-t3" } },
    ],
    { partitionKey: "p1" },
  );
  assert.deepEqual(await c.state.get(STORE, "sdk-t1"), { x: 1 });
  assert.equal(await c.state.get(STORE, "sdk-t2"), "y");
  assert.equal(await c.state.get(STORE, "sdk-t3"), "");

  // a failing ETag inside a transaction throws and changes nothing
  await assert.rejects(
    c.state.transaction(STORE, [
      { operation: "upsert", request: { key: "sdk-t4", value: txValue(4) } },
      { operation: "delete", request: { key: "sdk-t1", etag: "stale" } },
    ]),
  );
  assert.equal(await c.state.get(STORE, "sdk-t4"), "");
  assert.deepEqual(await c.state.get(STORE, "sdk-t1"), { x: 1 });
  await c.stop();
});
