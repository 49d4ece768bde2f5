// The raw side of bench/hazelcast_bench.c: Hazelcast's official Node.js client (hazelcast-client,
// pinned in tests/servers/npm) doing the same work as the driver, one awaited call at a time.
// Usage: node raw_client.js get|set|getall COUNT VALUE_LEN PREFIX NKEYS BULK
// Prints one line: "<ops per second>". Connection and warm-up are not timed.
'use strict';
const { Client } = require('hazelcast-client');

(async () => {
  const [op, count, vlen, prefix, nkeys, bulk] = process.argv.slice(2);
  const n = Number(count), nk = Number(nkeys), nb = Number(bulk);
  const client = await Client.newHazelcastClient({
    clusterName: process.env.SS_TEST_HAZELCAST_CLUSTER || 'dev',
    network: { clusterMembers: process.env.SS_TEST_HAZELCAST_SERVERS.split(',') },
    properties: { 'hazelcast.logging.level': 'ERROR' },
  });
  const map = await client.getMap('bench-raw');
  const value = Buffer.alloc(Number(vlen), 120);
  const keys = [];
  for (let i = 0; i < nk; i++) keys.push(`${prefix}-${i}`);
  for (let i = 0; i < nk; i++) await map.set(keys[i], value);
  const one = async (i) => {
    if (op === 'get') {
      if ((await map.get(keys[i % nk])) === null) throw new Error('missing key');
    } else if (op === 'set') {
      await map.set(keys[i % nk], value);
    } else {
      const want = [];
      for (let j = 0; j < nb; j++) want.push(keys[(i * nb + j) % nk]);
      const got = await map.getAll(want);
      if (got.length !== nb) throw new Error(`getAll: ${got.length} of ${nb}`);
    }
  };
  const calls = op === 'getall' ? Math.max(1, Math.floor(n / nb)) : n;
  for (let i = 0; i < calls / 10; i++) await one(i);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) await one(i);
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(((op === 'getall' ? calls * nb : calls) / s).toFixed(0));
  await client.shutdown();
})().catch((e) => {
  console.error(e && e.message ? e.message : e);
  process.exit(1);
});
