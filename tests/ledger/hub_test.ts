import { NODE_TEST, waitFor } from "../_helpers/mod.ts";
import assert from "node:assert/strict";
import { isDeepStrictEqual } from "node:util";
import { gzipSync } from "node:zlib";
import { genesisBlock, nextBlock, withValue } from "../../src/ledger/block.ts";
import { MAX_BLOCK_BYTES } from "../../src/ledger/constants.ts";
import type { GossipRejection } from "../../src/ledger/envelope.ts";
import { type Network, startNetwork } from "../../src/network/network.ts";
import type { NetworkOptions } from "../../src/network/options.ts";
import { sealKeyAt, topicAt } from "../../src/token/derive.ts";
import { seal } from "../../src/token/seal.ts";
import { generateTokenConfig, type NetworkToken } from "../../src/token/token.ts";

const encoder = new TextEncoder();

/** Starts a loopback-only node: 127.0.0.1, no mDNS, no DHT, bootstrap list given. */
function startNode(
  token: NetworkToken,
  bootstrap: Network | undefined,
  extra: Partial<NetworkOptions> = {},
): Promise<Network> {
  return startNetwork({
    token,
    listen: ["/ip4/127.0.0.1/tcp/0"],
    bootstrapPeers: bootstrap === undefined ? [] : [addressOf(bootstrap)],
    mdns: false,
    dht: false,
    ...extra,
  });
}

function addressOf(network: Network): string {
  const addr = network.node.getMultiaddrs().map(String).find((a) =>
    a.startsWith("/ip4/127.0.0.1/")
  );
  assert.ok(addr !== undefined, "the node listens on 127.0.0.1");
  return addr.includes("/p2p/") ? addr : `${addr}/p2p/${network.peerId}`;
}

/** Waits until every node holds the heartbeat of every other: gossip flows between all. */
async function waitMeshed(networks: Network[], timeoutMs = 10_000): Promise<void> {
  await waitFor(
    () =>
      networks.every((n) =>
        networks.every((m) => n.ledger.has("healthcheck", m.peerId.toString()))
      ),
    { timeoutMs, message: "every node to hold every heartbeat" },
  );
}

async function stopAllNetworks(networks: (Network | undefined)[]): Promise<void> {
  await Promise.all(networks.map((n) => n?.stop().catch(() => {})));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

Deno.test({
  name: "LedgerHub: writes converge across topic rotations, with a node 3 s behind",
  ...NODE_TEST,
  async fn() {
    // 10 s rotation: the run crosses at least two topic and seal-key changes.
    const token = generateTokenConfig({ otpInterval: 10 });
    const networks: Network[] = [];
    // No periodic full-block rebroadcast during the run (the first is at start-up, the next
    // 300 s later): each write must reach every node by gossip, including near a topic
    // boundary to and from the node behind, within its 3 s wait.
    const noRebroadcast = { syncIntervalMs: 600_000 };
    try {
      const seed = await startNode(token, undefined, noRebroadcast);
      networks.push(seed);
      networks.push(await startNode(token, seed, noRebroadcast));
      networks.push(
        await startNode(token, seed, { ...noRebroadcast, now: () => Date.now() - 3_000 }),
      );
      const lagging = networks[2]!;
      await waitMeshed(networks);
      // Ledger blocks each node took from gossip (a join's direct delivery is not counted).
      const gossiped = networks.map(() => 0);
      networks.forEach((n, index) =>
        n.node.services.pubsub.addEventListener("message", (event) => {
          if (n.hub.topics.includes(event.detail.topic)) gossiped[index]!++;
        })
      );

      const firstTopics = seed.hub.topics;
      const currentTopics = new Set<string>();
      const lagTopics = new Set<string>();
      const latencies: string[] = [];
      const began = Date.now();
      for (let i = 0; Date.now() - began < 26_000; i++) {
        const writer = networks[i % networks.length]!;
        const slot = Date.now();
        const value = { i, writer: i % networks.length };
        const phase = ((writer.now() / 1000) % 10).toFixed(1);
        const gossipedBefore = [...gossiped];
        await writer.ledger.put("rotation", `w${i}`, value);
        // Every node holds the write, and every other node took a ledger block from gossip
        // since it was made (a join's direct delivery alone does not count).
        await waitFor(() => {
          const without = networks.flatMap((n, index) =>
            isDeepStrictEqual(n.ledger.get("rotation", `w${i}`), value) ? [] : [index]
          );
          const notGossiped = networks.flatMap((n, index) =>
            n !== writer && gossiped[index] === gossipedBefore[index] ? [index] : []
          );
          if (without.length === 0 && notGossiped.length === 0) return true;
          throw new Error(`nodes without it: [${without}]; not by gossip: [${notGossiped}]`);
        }, {
          timeoutMs: 3_000,
          message: `write ${i} from node ${i % networks.length} (${phase} s into its window) ` +
            `on all nodes by gossip; the writes before:\n${latencies.join("\n")}\n`,
        });
        latencies.push(`w${i} from ${i % networks.length} at ${phase}: ${Date.now() - slot} ms`);
        currentTopics.add(seed.hub.topics[0]!);
        lagTopics.add(lagging.hub.topics[0]!);
        await sleep(2_000 - (Date.now() - slot));
      }

      assert.ok(
        currentTopics.size >= 3,
        `expected at least two rotations, saw ${currentTopics.size} topics`,
      );
      assert.ok(lagTopics.size >= 3);
      assert.ok(!firstTopics.includes(seed.hub.topics[0]!), "the current topic changed");
      // The hub follows the clock (it rechecks every second).
      await waitFor(() => seed.hub.topics[0] === topicAt(token, Date.now() / 1000), {
        timeoutMs: 3_000,
        message: "the seed's current topic to be the one of this window",
      });
      // Every node ends with the same block.
      const hashes = new Set(networks.map((n) => n.ledger.block.Hash));
      await waitFor(
        () => new Set(networks.map((n) => n.ledger.block.Hash)).size === 1,
        { timeoutMs: 3_000, message: `one block on all nodes (${hashes.size} now)` },
      );
      for (const n of networks) assert.deepEqual(n.ledger.stats.dropped, {});
    } finally {
      await stopAllNetworks(networks);
    }
  },
});

Deno.test({
  name: "LedgerHub listens on every topic within its grace window, the current one first",
  ...NODE_TEST,
  async fn() {
    // A rotation (10 s) shorter than the grace (15 s): two windows on each side matter.
    const token = generateTokenConfig({ otpInterval: 10 });
    const network = await startNode(token, undefined, { healthcheck: false });
    try {
      await waitFor(() => {
        const nowS = Date.now() / 1000;
        const topics = network.hub.topics;
        if (topics[0] !== topicAt(token, nowS)) return false;
        for (let offset = -13; offset <= 13; offset++) {
          if (!topics.includes(topicAt(token, nowS + offset))) return false;
        }
        return topics.length <= 4;
      }, { timeoutMs: 3_000, message: "the topics of every window within ±13 s" });
      const subscribed = network.node.services.pubsub.getTopics();
      for (const topic of network.hub.topics) assert.ok(subscribed.includes(topic));
    } finally {
      await network.stop();
    }
  },
});

Deno.test({
  name: "LedgerHub: a node with another token sees nothing and its blocks are ignored",
  ...NODE_TEST,
  async fn() {
    const token = generateTokenConfig();
    // An unrelated network, and one that shares the room (so the same topic) but not the seal key.
    const unrelated = generateTokenConfig();
    const sameRoom = structuredClone(token);
    sameRoom.otp.crypto.key = generateTokenConfig().otp.crypto.key;
    assert.equal(topicAt(sameRoom, Date.now() / 1000), topicAt(token, Date.now() / 1000));

    const networks: Network[] = [];
    try {
      const seed = await startNode(token, undefined);
      networks.push(seed);
      const member = await startNode(token, seed);
      networks.push(member);
      const outsiders: Network[] = [];
      for (const other of [unrelated, sameRoom]) {
        outsiders.push(await startNode(other, seed));
        networks.push(outsiders.at(-1)!);
      }
      await waitMeshed([seed, member]);
      await waitFor(() => seed.node.getConnections(outsiders[0]!.node.peerId).length > 0, {
        message: "the unrelated outsider connected to the seed",
      });

      // A p2p node sends strangers nothing; a hostile one sends anyway: the same-room outsider
      // is made to treat the seed as a member, so its blocks go out on the shared topic.
      const sameRoomOutsider = outsiders[1]!;
      sameRoomOutsider.membership.prove(seed.peerId, "challenge");
      // The outsiders write far ahead of the members.
      for (let i = 0; i < 25; i++) {
        await Promise.all(outsiders.map((o) => o.ledger.put("intruder", `k${i}`, i)));
      }
      // The seed cannot open the first one, drops it before forwarding it, and hangs up: the
      // outsider's later blocks never arrive.
      await waitFor(
        () =>
          seed.node.getConnections(sameRoomOutsider.node.peerId).length === 0 &&
          seed.node.services.peerGuard.stats.punished >= 1,
        { message: "the seed to drop the same-room outsider's block and hang up" },
      );

      await member.ledger.put("members", "k", "v");
      await waitFor(() => seed.ledger.get("members", "k") === "v", {
        message: "a member write to reach the seed",
      });
      for (const n of [seed, member]) {
        assert.equal(n.ledger.has("intruder", "k0"), false);
        assert.equal(n.ledger.storage["intruder"], undefined);
        assert.ok(n.ledger.block.Index < outsiders[0]!.ledger.block.Index);
        assert.deepEqual(Object.keys(n.ledger.stats.dropped).filter((r) => r !== "wrong-key"), []);
        // Validated before forwarding: junk stops at the first node, far below the 25 sent.
        assert.ok((n.ledger.stats.dropped["wrong-key"] ?? 0) < 5);
      }
      assert.equal(member.ledger.stats.dropped["wrong-key"] ?? 0, 0, "the seed forwarded no junk");
      for (const outsider of outsiders) {
        assert.equal(outsider.ledger.has("members", "k"), false);
        assert.equal(outsider.ledger.has("healthcheck", seed.peerId.toString()), false);
        assert.equal(outsider.ledger.stats.applied, 0);
        // Members send strangers nothing at all, sealed or not.
        assert.deepEqual(outsider.ledger.stats.dropped, {});
      }
    } finally {
      await stopAllNetworks(networks);
    }
  },
});

Deno.test({
  name: "LedgerHub: malformed gossip is counted by reason and the node keeps working",
  ...NODE_TEST,
  async fn() {
    // A 1 MiB cap keeps the oversize case small; inbound, the token's cap is the limit.
    const token = { ...generateTokenConfig(), maxMessageSize: 1 << 20 };
    const networks: Network[] = [];
    try {
      const receiver = await startNode(token, undefined);
      networks.push(receiver);
      const sender = await startNode(token, receiver);
      networks.push(sender);
      await waitMeshed(networks);

      const atS = Date.now() / 1000;
      const topic = topicAt(token, atS);
      const key = sealKeyAt(token, atS);
      const otherKey = sealKeyAt(generateTokenConfig(), atS);
      const genesis = genesisBlock(new Date());
      const block = nextBlock(genesis, withValue({}, "evil", "k", '"v"'), new Date());
      const envelope = (message: string): Uint8Array =>
        encoder.encode(JSON.stringify({ Message: message, SenderID: "", Annotations: null }));
      const sealed = (bytes: Uint8Array, sealKey = key): Uint8Array =>
        envelope(seal(sealKey, bytes));
      const gz = (text: string): Uint8Array => gzipSync(encoder.encode(text));

      const cases: [GossipRejection, Uint8Array][] = [
        ["not-json", encoder.encode("hello, not JSON")],
        ["bad-envelope", encoder.encode('{"Msg":"00"}')],
        ["bad-hex", envelope("this is not hex!")],
        ["wrong-key", sealed(gz(JSON.stringify(block)), otherKey)],
        ["not-gzip", sealed(encoder.encode(JSON.stringify(block)))],
        ["too-large", sealed(gzipSync(new Uint8Array(MAX_BLOCK_BYTES + 1024)))],
        ["bad-json", sealed(gz("{not json"))],
        ["bad-block", sealed(gz(JSON.stringify({ ...block, Index: "one" })))],
        ["bad-hash", sealed(gz(JSON.stringify({ ...block, Hash: "f".repeat(64) })))],
        ["oversize", new Uint8Array(token.maxMessageSize + 1).fill(0x20)],
      ];
      for (const [reason, payload] of cases) {
        await sender.node.services.pubsub.publish(topic, payload);
        await waitFor(() => receiver.ledger.stats.dropped[reason] === 1, {
          message: `the receiver to drop the ${reason} message`,
        });
      }
      assert.deepEqual(
        receiver.ledger.stats.dropped,
        Object.fromEntries(cases.map(([reason]) => [reason, 1])),
      );
      assert.equal(receiver.ledger.has("evil", "k"), false);

      // Still working both ways.
      await sender.ledger.put("after", "k", "from the sender");
      await waitFor(() => receiver.ledger.get("after", "k") === "from the sender", {
        timeoutMs: 3_000,
        message: "a valid write after the malformed ones",
      });
      await receiver.ledger.put("after", "k2", "from the receiver");
      await waitFor(() => sender.ledger.get("after", "k2") === "from the receiver", {
        timeoutMs: 3_000,
        message: "a write from the receiver",
      });
    } finally {
      await stopAllNetworks(networks);
    }
  },
});
