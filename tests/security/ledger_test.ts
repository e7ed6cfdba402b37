// A member that crafts ledger blocks by hand cannot freeze the ledger of the network, inflate a
// gzip bomb on every node, or lose a large block a Go peer may send.
import { NODE_TEST, waitFor } from "../_helpers/mod.ts";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { gzipSync } from "node:zlib";
import { type Network, startNetwork } from "../../src/network/network.ts";
import { startCluster } from "../services/_fixtures.ts";
import { SYNC_INTERVAL_MS } from "../../src/ledger/constants.ts";
import { craftBlock, publishCompressed, publishRawBlock } from "./_attacks.ts";

/**
 * Writes `key` on `writer` and waits until every node of `nodes` reads it: replication works.
 * (The attacker publishes by hand, bypassing its own ledger, so only the nodes that follow
 * the rules are checked.) Bounded by one periodic re-broadcast: a gossip message lost under
 * load is repaired by it, while a frozen ledger never converges.
 */
async function replicates(nodes: Network[], writer: Network, key: string): Promise<void> {
  await writer.ledger.put("resume", key, key);
  await waitFor(() => nodes.every((n) => n.ledger.get("resume", key) === key), {
    timeoutMs: SYNC_INTERVAL_MS + 5_000,
    message: `the write "${key}" to reach every node (indices ${
      nodes.map((n) => n.ledger.block.Index).join(", ")
    })`,
  });
}

Deno.test({
  name: "security: no block a member sends freezes the ledger; writes keep replicating",
  ...NODE_TEST,
  async fn() {
    const cluster = await startCluster(2);
    // The attacker publishes by hand and never rebroadcasts its own (stale) block: a node left
    // half the index ring behind would legitimately pull the others back, which is not what
    // this test is about.
    const attacker = await startNetwork({
      token: cluster.token,
      listen: ["/ip4/127.0.0.1/tcp/0"],
      bootstrapPeers: [cluster.seedAddr],
      mdns: false,
      healthcheck: false,
      syncIntervalMs: 3_600_000,
    });
    try {
      const [seed, honest] = cluster.networks as [Network, Network];
      await waitFor(
        () => seed.node.services.pubsub.getSubscribers(seed.hub.topics[0]!).length >= 2,
        {
          message: "the attacker on the ledger topic",
        },
      );
      const at = (): number => seed.ledger.block.Index;
      const half = 2 ** 52;
      const ahead = (): number => (at() + half - 1_000) % (2 * half);
      const cases: [string, () => string][] = [
        // What froze a network: every node adopted it, every later write got 2^53, dropped.
        ["index 2^53-1", () => JSON.stringify(craftBlock(attacker, Number.MAX_SAFE_INTEGER))],
        // Nearly as far ahead as an index can be: adopted, and the next write beats it. (A
        // margin of 1,000: heartbeat writes land while the block is on its way, and a block
        // exactly half the ring ahead is a tie.)
        ["index ahead by 2^52-1000", () => JSON.stringify(craftBlock(attacker, ahead()))],
        ["again, near the top of the range", () => JSON.stringify(craftBlock(attacker, ahead()))],
        // Past the top of the range, the index wraps around and writes go on.
        ["past the top", () => JSON.stringify(craftBlock(attacker, ahead()))],
        // Go's int64 range: a valid Go block, beyond what a JS number holds exactly.
        ["index int64 max", () =>
          JSON.stringify(craftBlock(attacker, 7)).replace(
            /"Index":7,/,
            '"Index":9223372036854775807,',
          )],
        ["negative index", () => JSON.stringify(craftBlock(attacker, -1))],
        ["fractional index", () => JSON.stringify(craftBlock(attacker, at() + 1.5))],
        // The same index with a chosen hash that wins every tie but does not match.
        [
          "duplicate index, chosen hash",
          () =>
            JSON.stringify(craftBlock(attacker, at(), { taken: { k: '"over"' } }, "f".repeat(64))),
        ],
      ];
      for (const [name, block] of cases) {
        await publishRawBlock(attacker, block());
        await replicates([seed, honest], honest, name);
      }
      assert.ok(at() < half, `the index wrapped around (${at()})`);
      assert.equal(seed.ledger.has("taken", "k"), false, "the mismatched hash was dropped");
      assert.deepEqual(seed.ledger.stats.dropped, { "bad-block": 3, "bad-hash": 1 });
    } finally {
      await attacker.stop();
      await cluster.stop();
    }
  },
});

Deno.test({
  name: "security: a gzip bomb is not inflated to a huge block on every node",
  ...NODE_TEST,
  async fn() {
    const cluster = await startCluster(2);
    try {
      const [seed, attacker] = cluster.networks as [Network, Network];
      // 60 MiB of one letter: a valid block that gzips to about 60 KB.
      const huge = craftBlock(attacker, attacker.ledger.block.Index + 1, {
        bomb: { k: JSON.stringify("a".repeat(60 * 1024 * 1024)) },
      });
      const bomb = gzipSync(new TextEncoder().encode(JSON.stringify(huge)));
      console.log(`bomb: ${bomb.byteLength} bytes gzipped, 60 MiB inflated`);
      await publishCompressed(attacker, bomb);
      await waitFor(() => (seed.ledger.stats.dropped["too-large"] ?? 0) >= 1, {
        message: "the seed to drop the bomb as too large",
      });
      assert.equal(seed.ledger.has("bomb", "k"), false);
      await replicates(cluster.networks, attacker, "after the bomb");
    } finally {
      await cluster.stop();
    }
  },
});

Deno.test({
  name: "security: a 6 MB block in edgevpn's format (unsigned) is adopted, up to the token's limit",
  ...NODE_TEST,
  async fn() {
    const cluster = await startCluster(2);
    try {
      const [seed, sender] = cluster.networks as [Network, Network];
      // Random data does not compress: the sealed message is about 12 MB of hex.
      const value = JSON.stringify(randomBytes(4_500_000).toString("base64"));
      const block = craftBlock(sender, sender.ledger.block.Index + 1, { big: { k: value } });
      await publishRawBlock(sender, JSON.stringify(block));
      await waitFor(() => seed.ledger.has("big", "k"), {
        timeoutMs: 15_000,
        message: "the seed to adopt the 6 MB block",
      });
      assert.equal((seed.ledger.get("big", "k") as string).length, value.length - 2);
      assert.equal(seed.ledger.stats.dropped["oversize"], undefined);
    } finally {
      await cluster.stop();
    }
  },
});
