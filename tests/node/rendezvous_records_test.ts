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

/** CIDs (datastore form) of the provider records `node` holds with itself as the provider. */
async function ownProviderRecords(node: P2PLibp2p): Promise<Set<string>> {
  const self = node.peerId.toString();
  const cids = new Set<string>();
  // libp2p's node object holds its components; the datastore is where kad-dht keeps records
  // as /dht/provider/<multihash in base32>/<provider peer ID>.
  const { datastore } = (node as unknown as { components: { datastore: KeyQuery } }).components;
  for await (const key of datastore.queryKeys({ prefix: "/dht/provider/" })) {
    const parts = key.toString().split("/");
    if (parts.at(-1) === self) cids.add(parts.at(-2) ?? "");
  }
  return cids;
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
