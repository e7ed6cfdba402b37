import { NODE_TEST, startJoined, startSeed, stopNodes, waitFor } from "./_fixtures.ts";
import assert from "node:assert/strict";
import { generateKeyPair } from "@libp2p/crypto/keys";
import { peerIdFromPrivateKey, peerIdFromString } from "@libp2p/peer-id";
import { MEMBERS_BUCKET, type P2PNode, PeerDeniedError } from "../../src/messaging/mod.ts";
import { generateTokenConfig } from "../../src/token/token.ts";

Deno.test({
  name: "findPeers() returns online members matching pool and capabilities, fastest first",
  ...NODE_TEST,
  async fn() {
    const token = generateTokenConfig();
    const nodes: P2PNode[] = [];
    try {
      const a = await startSeed(token);
      nodes.push(a);
      const b = await startJoined(token, a);
      const c = await startJoined(token, a);
      nodes.push(b, c);
      const recordB = await b.advertise(
        { models: ["llama3", "phi3"], gpu: true },
        { pools: ["worker"] },
      );
      assert.equal(recordB.peerId, b.peerId);
      assert.ok(recordB.addresses.every((addr) => addr.endsWith(`/p2p/${b.peerId}`)));
      await c.advertise({ models: ["phi3"], gpu: false }, { pools: ["worker", "federated"] });

      const both = await waitFor(async () => {
        const found = await a.findPeers({ capabilities: { models: ["phi3"] } });
        return found.length === 2 ? found : undefined;
      }, { message: "a to find b and c" });
      assert.deepEqual(both.map((m) => m.peerId).sort(), [b.peerId, c.peerId].sort());
      assert.ok(both[0]!.rttMs <= both[1]!.rttMs, "ordered by latency");
      for (const match of both) {
        assert.equal(match.connected, true);
        assert.ok(match.uptimeS >= 0 && match.uptimeS < 60);
        assert.equal(typeof match.rttMs, "number");
      }

      const llama = await a.findPeers({ capabilities: { models: ["llama3"] } });
      assert.deepEqual(llama.map((m) => m.peerId), [b.peerId]);
      assert.deepEqual(llama[0]!.capabilities, { models: ["llama3", "phi3"], gpu: true });
      assert.deepEqual(llama[0]!.pools, ["worker"]);
      const federated = await a.findPeers({ pool: "federated" });
      assert.deepEqual(federated.map((m) => m.peerId), [c.peerId]);
      assert.deepEqual(
        (await a.findPeers({ pool: "worker", capabilities: { gpu: true } })).map((m) => m.peerId),
        [b.peerId],
      );
      assert.deepEqual(await a.findPeers({ minUptimeS: 3_600 }), []);
      assert.deepEqual(await a.findPeers({ maxLatencyMs: -1 }), []);
      assert.equal((await a.findPeers({ limit: 1 })).length, 1);
      // A member finds the others but never itself (once c's record and proof reached b).
      const fromB = await waitFor(async () => {
        const found = await b.findPeers();
        return found.length > 0 ? found : undefined;
      }, { message: "b to find c" });
      assert.deepEqual(fromB.map((m) => m.peerId), [c.peerId]);

      // Re-advertising replaces the record.
      await c.advertise({ models: ["mistral"] }, { pools: ["worker"] });
      await waitFor(async () => {
        const found = await a.findPeers({ capabilities: { models: ["mistral"] } });
        return found.length === 1;
      }, { message: "c's new record" });
      // Denied members are not returned.
      await a.deny(c.peerId);
      assert.deepEqual((await a.findPeers({ pool: "worker" })).map((m) => m.peerId), [b.peerId]);
      await assert.rejects(a.request(c.peerId, "x", null), PeerDeniedError);
    } finally {
      await stopNodes(nodes.reverse());
    }
  },
});

/**
 * A seed `a` and two members bootstrapped to it (the DHT off): `c` advertises, and the test
 * runs once `c`'s record reached `b`, which knows `c` from the ledger only.
 */
async function withRecordRelayed(
  c: { extra?: Parameters<typeof startJoined>[2]; setup?: (node: P2PNode) => void },
  test: (b: P2PNode, c: P2PNode) => Promise<void>,
): Promise<void> {
  const token = generateTokenConfig();
  const nodes: P2PNode[] = [];
  try {
    const a = await startSeed(token);
    nodes.push(a);
    const member = await startJoined(token, a);
    nodes.push(member);
    const advertiser = await startJoined(token, a, c.extra);
    nodes.push(advertiser);
    c.setup?.(advertiser);
    await advertiser.advertise({ role: "db" });
    await waitFor(
      () => member.network.claims.get(MEMBERS_BUCKET, advertiser.peerId) !== undefined,
      { message: "c's record to reach b" },
    );
    await test(member, advertiser);
  } finally {
    await stopNodes(nodes.reverse());
  }
}

Deno.test({
  name: "findPeers() dials a member it knows only from the ledger and returns it once it proves",
  ...NODE_TEST,
  async fn() {
    // Without the heartbeat, nothing c gossips names c: b cannot learn from gossip that c is
    // a member, only from c answering the challenge.
    await withRecordRelayed({ extra: { healthcheck: false } }, async (b, c) => {
      assert.equal(b.network.membership.isMember(c.peerId), false);
      const found = await b.findPeers({ capabilities: { role: "db" } });
      assert.deepEqual(found.map((m) => m.peerId), [c.peerId]);
      assert.equal(found[0]!.connected, true);
      assert.equal(b.network.membership.proofOf(c.peerId), "challenge");
    });
  },
});

Deno.test({
  name: "request() reaches a member known only from its record, at the addresses it signed",
  ...NODE_TEST,
  async fn() {
    const setup = (c: P2PNode) => c.handle("echo", (message) => message.payload);
    await withRecordRelayed({ setup }, async (b, c) => {
      // What b knows of c with the DHT off and no connection between them: the ledger only.
      const cId = peerIdFromString(c.peerId);
      await b.network.node.hangUp(cId);
      await b.network.node.peerStore.delete(cId);
      assert.deepEqual(await b.request(c.peerId, "echo", { n: 1 }), { n: 1 });
    });
  },
});

Deno.test({
  name: "findPeers() leaves out members that do not answer, and a stopped member's record goes",
  ...NODE_TEST,
  async fn() {
    const token = generateTokenConfig();
    const nodes: P2PNode[] = [];
    try {
      const a = await startSeed(token);
      nodes.push(a);
      const b = await startJoined(token, a);
      nodes.push(b);
      await b.advertise({ role: "db" });
      await waitFor(
        async () => (await a.findPeers({ capabilities: { role: "db" } })).length === 1,
        {
          message: "a to find b",
        },
      );
      // A record for a peer that is not there (a closed port): not online, not returned.
      const ghost = peerIdFromPrivateKey(await generateKeyPair("Ed25519")).toString();
      await a.network.ledger.put(MEMBERS_BUCKET, ghost, {
        peerId: ghost,
        capabilities: { role: "db" },
        pools: [],
        startedAt: Date.now() - 60_000,
        addresses: [`/ip4/127.0.0.1/tcp/1/p2p/${ghost}`],
        updatedAt: Date.now(),
      });
      const found = await a.findPeers({ capabilities: { role: "db" } });
      assert.deepEqual(found.map((m) => m.peerId), [b.peerId]);
      // A stopped member withdraws its record; it is no longer found.
      await b.stop();
      await waitFor(
        async () => (await a.findPeers({ capabilities: { role: "db" } })).length === 0,
        { message: "b's record to go" },
      );
    } finally {
      await stopNodes(nodes.reverse());
    }
  },
});

Deno.test({
  name: "advertise() keeps the record across a restart, in the network ID's bucket",
  ...NODE_TEST,
  async fn() {
    const token = generateTokenConfig();
    const nodes: P2PNode[] = [];
    try {
      const a = await startSeed(token);
      nodes.push(a);
      const b = await startJoined(token, a, { networkId: "lab" });
      nodes.push(b);
      await b.advertise({ zone: "1" });
      // With a network ID, records live in the prefixed bucket.
      assert.notEqual(b.network.ledger.get(`lab_${MEMBERS_BUCKET}`, b.peerId), undefined);
      assert.equal(b.network.ledger.get(MEMBERS_BUCKET, b.peerId), undefined);
      await b.stop();
      await b.start();
      await waitFor(() => b.network.ledger.get(`lab_${MEMBERS_BUCKET}`, b.peerId) !== undefined, {
        message: "b's record after the restart",
      });
    } finally {
      await stopNodes(nodes.reverse());
    }
  },
});
