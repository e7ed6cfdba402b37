import assert from "node:assert/strict";
import type { ComponentLogger, ContentRouting, Logger } from "@libp2p/interface";
import type { ConnectionManager } from "@libp2p/interface-internal";
import type { CID } from "multiformats/cid";
import { rendezvous, type RendezvousComponents } from "../../src/node/rendezvous.ts";
import { RENDEZVOUS_REPROVIDE_MS } from "../../src/node/constants.ts";
import { rendezvousAt, rendezvousCid } from "../../src/token/derive.ts";
import { generateTokenConfig } from "../../src/token/token.ts";
import { providerRecordPolicy } from "../../src/node/provider_records.ts";

const silent: Logger = Object.assign(() => {}, {
  error: () => {},
  trace: () => {},
  enabled: false,
  newScope: () => silent,
});
const logger: ComponentLogger = { forComponent: () => silent };

/** A DHT and connection manager that record what the rendezvous loop asks of them. */
function fakeNetwork(failProvides = 0) {
  const provides: string[] = [];
  const cancelled: string[] = [];
  const connections: unknown[] = [];
  let failures = failProvides;
  const components: RendezvousComponents = {
    logger,
    contentRouting: {
      provide: (cid: CID) => {
        if (failures-- > 0) return Promise.reject(new Error("no peers answered"));
        provides.push(cid.toString());
        return Promise.resolve();
      },
      // deno-lint-ignore require-yield
      findProviders: async function* () {
        return;
      },
    } as unknown as ContentRouting,
    connectionManager: {
      getConnections: () => connections,
      openConnection: () => Promise.reject(new Error("no dials in this test")),
    } as unknown as ConnectionManager,
    dht: {
      cancelReprovide: (cid: CID) => {
        cancelled.push(cid.toString());
        return Promise.resolve();
      },
    },
  };
  return { components, provides, cancelled, connections };
}

const token = generateTokenConfig({ dhtInterval: 30 });
const cidAt = (ms: number): string => rendezvousCid(rendezvousAt(token, ms / 1000));
// The middle of a window, so that a few seconds either way stay in it.
const start = (Math.floor(Date.now() / 30_000) + 0.5) * 30_000;

Deno.test("rendezvous provides each CID once while nobody joins", async () => {
  const net = fakeNetwork();
  let now = start;
  const loop = rendezvous({ token, now: () => now })(net.components);
  loop.start();
  try {
    const first = await loop.runCycle();
    assert.deepEqual(first.provided, [cidAt(start), cidAt(start - 30_000)]);
    now += 10_000;
    const second = await loop.runCycle();
    assert.deepEqual(second.provided, []);
    assert.equal(second.cids.length, 2, "both CIDs are still searched");
    assert.equal(net.provides.length, 2);
  } finally {
    await loop.stop();
  }
});

Deno.test("rendezvous provides again when its connections more than doubled", async () => {
  const net = fakeNetwork();
  let now = start;
  const loop = rendezvous({ token, now: () => now })(net.components);
  loop.start();
  try {
    await loop.runCycle(); // alone
    net.connections.push({ remotePeer: "a" });
    now += 1_000;
    assert.equal((await loop.runCycle()).provided.length, 2, "0 → 1 connection");
    net.connections.push({ remotePeer: "b" });
    now += 1_000;
    assert.equal((await loop.runCycle()).provided.length, 0, "1 → 2: not more than doubled");
    net.connections.push({ remotePeer: "c" });
    now += 1_000;
    assert.equal((await loop.runCycle()).provided.length, 2, "1 → 3");
    now += 1_000;
    assert.equal((await loop.runCycle()).provided.length, 0);
  } finally {
    await loop.stop();
  }
});

Deno.test("rendezvous tries a failed provide again next cycle", async () => {
  const net = fakeNetwork(1);
  let now = start;
  const loop = rendezvous({ token, now: () => now })(net.components);
  loop.start();
  try {
    assert.deepEqual((await loop.runCycle()).provided, [cidAt(start - 30_000)]);
    now += 5_000;
    assert.deepEqual((await loop.runCycle()).provided, [cidAt(start)]);
  } finally {
    await loop.stop();
  }
});

Deno.test("rendezvous provides the new CID on rotation and cancels the one rotated out", async () => {
  const net = fakeNetwork();
  let now = start;
  const loop = rendezvous({ token, now: () => now })(net.components);
  loop.start();
  try {
    await loop.runCycle();
    now += 30_000;
    assert.deepEqual((await loop.runCycle()).provided, [cidAt(now)]);
    assert.deepEqual(net.cancelled, [cidAt(start - 30_000)]);
    now += RENDEZVOUS_REPROVIDE_MS;
    const late = await loop.runCycle();
    assert.equal(late.provided.length, 2, "a fresh window: both CIDs are new");
  } finally {
    await loop.stop();
  }
});

Deno.test("rendezvous provides a long-lived CID again after the re-provide period", async () => {
  const long = generateTokenConfig({ dhtInterval: 3600 });
  const net = fakeNetwork();
  const windowStart = Math.floor(Date.now() / 3_600_000) * 3_600_000;
  let now = windowStart + 60_000;
  const loop = rendezvous({ token: long, now: () => now })(net.components);
  loop.start();
  try {
    assert.equal((await loop.runCycle()).provided.length, 2);
    now += RENDEZVOUS_REPROVIDE_MS - 1;
    assert.equal((await loop.runCycle()).provided.length, 0);
    now += 1;
    assert.equal((await loop.runCycle()).provided.length, 2);
    assert.deepEqual(net.cancelled, []);
  } finally {
    await loop.stop();
  }
});

Deno.test("provider records outlive their two DHT windows and are swept", () => {
  const policy = providerRecordPolicy(token);
  assert.ok(policy.validity > 2 * 30_000, "a record lives through current and previous window");
  assert.ok(policy.validity < 5 * 60_000, "and is gone minutes later, not after 48 hours");
  assert.equal(policy.threshold, 0, "our own records are not re-provided before they expire");
  assert.ok(policy.interval <= 60_000);
});
