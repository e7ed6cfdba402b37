// The DHT holds a node's own rendezvous records only while they are in use: kad-dht keeps
// every record it provided (and re-provides it) until told otherwise, and the CID changes
// every DHT window. Loopback only, in process.
import { NODE_TEST, waitFor } from "../_helpers/mod.ts";
import assert from "node:assert/strict";
import { createLibp2pNode, type NodeOptions, type P2PLibp2p } from "../../src/node/create_node.ts";
import { generateTokenConfig, type NetworkToken } from "../../src/token/token.ts";

function options(token: NetworkToken, bootstrapPeers: string[]): NodeOptions {
  return {
    token,
    listen: ["/ip4/127.0.0.1/tcp/0"],
    bootstrapPeers,
    mdns: false,
    dht: true,
    rendezvousIntervalMs: 200,
  };
}

interface KeyQuery {
  queryKeys(query: { prefix: string }): AsyncIterable<{ toString(): string }>;
}

/** CIDs (datastore form) of the provider records `node` holds that name `provider`. */
async function providerRecords(node: P2PLibp2p, provider: P2PLibp2p): Promise<Set<string>> {
  const id = provider.peerId.toString();
  const cids = new Set<string>();
  // libp2p's node object holds its components; the datastore is where kad-dht keeps records
  // as /dht/provider/<multihash in base32>/<provider peer ID>.
  const { datastore } = (node as unknown as { components: { datastore: KeyQuery } }).components;
  for await (const key of datastore.queryKeys({ prefix: "/dht/provider/" })) {
    const parts = key.toString().split("/");
    if (parts.at(-1) === id) cids.add(parts.at(-2) ?? "");
  }
  return cids;
}

/** CIDs of the provider records `node` holds with itself as the provider. */
function ownProviderRecords(node: P2PLibp2p): Promise<Set<string>> {
  return providerRecords(node, node);
}

Deno.test({
  name: "rendezvous: a node keeps its own provider records of the current and previous window only",
  ...NODE_TEST,
  async fn() {
    // One-second DHT windows: a rotation every second.
    const token = generateTokenConfig({ dhtInterval: 1 });
    const seed = await createLibp2pNode(options(token, []));
    await seed.start();
    const nodes = [seed];
    try {
      const addr = seed.getMultiaddrs().map(String).find((a) => a.startsWith("/ip4/127.0.0.1/"));
      assert.ok(addr !== undefined);
      const joiner = await createLibp2pNode(options(token, [addr]));
      nodes.push(joiner);
      await joiner.start();
      const seen = new Set<string>();
      const startedS = Math.floor(Date.now() / 1000);
      // Five rotations, sampling what the joiner holds as it goes.
      await waitFor(async () => {
        for (const cid of await ownProviderRecords(joiner)) seen.add(cid);
        const held = await ownProviderRecords(joiner);
        assert.ok(held.size <= 3, `own records held at once: ${held.size}`);
        return Math.floor(Date.now() / 1000) - startedS >= 5 && seen.size >= 4;
      }, { timeoutMs: 15_000, message: "five DHT windows with provides in four of them" });
      assert.ok(joiner.services.rendezvous.cycles >= 10);
    } finally {
      await Promise.all(nodes.map((n) => n.stop()));
    }
  },
});

/**
 * The most of `nodes` that hold one record naming `provider`. Per CID: across a DHT window's
 * end the provider names the new window's CID too, whose closest nodes may be other ones.
 */
async function holdersOf(nodes: P2PLibp2p[], provider: P2PLibp2p): Promise<number> {
  const held = await Promise.all(nodes.map((node) => providerRecords(node, provider)));
  const perCid = new Map<string, number>();
  for (const cids of held) for (const cid of cids) perCid.set(cid, (perCid.get(cid) ?? 0) + 1);
  return Math.max(0, ...perCid.values());
}

Deno.test({
  name:
    "rendezvous: in a DHT of the network's own a record sits on 8 nodes, and a newcomer still meets all",
  ...NODE_TEST,
  async fn() {
    const token = generateTokenConfig();
    const seed = await createLibp2pNode({ ...options(token, []), rendezvousIntervalMs: 1_000 });
    await seed.start();
    const nodes = [seed];
    const connected = (n: P2PLibp2p) => n.getConnections().length;
    try {
      const addr = seed.getMultiaddrs().map(String).find((a) => a.startsWith("/ip4/127.0.0.1/"));
      assert.ok(addr !== undefined);
      const members = 12;
      const join = async () => {
        const node = await createLibp2pNode({
          ...options(token, [addr]),
          rendezvousIntervalMs: 1_000,
        });
        nodes.push(node);
        await node.start();
        return node;
      };
      for (let i = 1; i < members; i++) await join();
      await waitFor(() => nodes.every((n) => connected(n) >= members - 1), {
        timeoutMs: 30_000,
        message: `${members} nodes each connected to the ${members - 1} others`,
      });
      const newcomer = await join();
      const others = nodes.filter((n) => n !== newcomer);
      await waitFor(() => connected(newcomer) >= members, {
        timeoutMs: 30_000,
        message: `the newcomer connected to all ${members}`,
      });
      await waitFor(async () => await holdersOf(others, newcomer) > 0, {
        timeoutMs: 10_000,
        message: "the newcomer's record held by some node",
      });
      // The public DHT's width (20) would put it on all 12.
      const holders = await holdersOf(others, newcomer);
      assert.ok(holders <= 8, `the newcomer's record held by ${holders} of ${members} nodes`);
    } finally {
      await Promise.all(nodes.map((n) => n.stop()));
    }
  },
});
