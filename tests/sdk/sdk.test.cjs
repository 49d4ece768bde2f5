// The official Dapr JS SDK (@dapr/dapr, HTTP protocol) against statestored, unchanged:
// the client only knows it talks to "a Dapr sidecar" on DAPR_HTTP_PORT.
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const { DaprClient, CommunicationProtocolEnum, LogLevel } = require("@dapr/dapr");

const STORE = process.env.SS_SDK_STORE || "statestore";

function client() {
  return new DaprClient({
    daprHost: "127.0.0.1",
    daprPort: process.env.DAPR_HTTP_PORT,
    communicationProtocol: CommunicationProtocolEnum.HTTP,
    logger: { level: LogLevel.Error },
  });
}

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
  assert.equal(bulk[1].data, undefined);
  assert.equal(bulk[2].data, "plain string");
  await c.stop();
});

test("save with metadata and options", async () => {
  const c = client();
  const r = await c.state.save(
    STORE,
    [{ key: "sdk-opt", value: "v", options: { consistency: "strong", concurrency: "first-write" } }],
    { metadata: { ttlInSeconds: "3600" } },
  );
  assert.deepEqual(r, {}, JSON.stringify(r));
  assert.equal(await c.state.get(STORE, "sdk-opt", { consistency: "strong" }), "v");
  await c.stop();
});

test("ETag conflict surfaces as an error; the right ETag works", async () => {
  const c = client();
  await c.state.save(STORE, [{ key: "sdk-etag", value: "v1" }]);
  const [item] = await c.state.getBulk(STORE, ["sdk-etag"]);
  const etag = item.etag;
  assert.ok(etag);

  const bad = await c.state.save(STORE, [{ key: "sdk-etag", value: "v2", etag: "not-the-etag" }]);
  assert.ok(bad.error, "a stale ETag must be reported as an error");
  assert.match(String(bad.error.message), /409/);
  assert.equal(await c.state.get(STORE, "sdk-etag"), "v1");

  const good = await c.state.save(STORE, [{ key: "sdk-etag", value: "v2", etag }]);
  assert.deepEqual(good, {}, JSON.stringify(good));
  assert.equal(await c.state.get(STORE, "sdk-etag"), "v2");

  // delete with the old (now stale) ETag fails, then with the current one succeeds
  const staleDel = await c.state.delete(STORE, "sdk-etag", { etag });
  assert.ok(staleDel.error, "delete with a stale ETag must fail");
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
      { operation: "upsert", request: { key: "sdk-t1", value: { x: 1 } } },
      { operation: "upsert", request: { key: "sdk-t2", value: "y" } },
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
      { operation: "upsert", request: { key: "sdk-t4", value: 4 } },
      { operation: "delete", request: { key: "sdk-t1", etag: "stale" } },
    ]),
  );
  assert.equal(await c.state.get(STORE, "sdk-t4"), "");
  assert.deepEqual(await c.state.get(STORE, "sdk-t1"), { x: 1 });
  await c.stop();
});
