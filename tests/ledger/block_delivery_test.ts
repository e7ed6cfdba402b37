// The block sent to one peer that joined, instead of a gossip rebroadcast to every node.
import assert from "node:assert/strict";
import type { Libp2p } from "@libp2p/interface";
import { peerIdFromString } from "@libp2p/peer-id";
import { nextBlock, withValue } from "../../src/ledger/block.ts";
import { byteStream } from "@libp2p/utils";
import { blockDelivery } from "../../src/ledger/block_delivery.ts";
import { BLOCK_DELIVERY_PROTOCOL } from "../../src/ledger/constants.ts";
import { type Network, startNetwork } from "../../src/network/network.ts";
import { createLibp2pNode } from "../../src/node/create_node.ts";
import { generateTokenConfig, type NetworkToken } from "../../src/token/token.ts";
import {
  LOOPBACK_LISTEN,
  loopbackAddr,
  NODE_TEST,
  stopNetworks,
  untilEvent,
  waitFor,
} from "../_helpers/mod.ts";

/** A node without heartbeats and with one periodic rebroadcast (at its start): what it
 * publishes after that is a write or a rebroadcast for a peer. */
function startQuietNode(token: NetworkToken, bootstrap: string[] = []): Promise<Network> {
  return startNetwork({
    token,
    listen: LOOPBACK_LISTEN,
    bootstrapPeers: bootstrap,
    mdns: false,
    dht: false,
    healthcheck: false,
    syncIntervalMs: 3_600_000,
  });
}

async function identified(node: Libp2p, peer: string): Promise<void> {
  await waitFor(async () => {
    try {
      return (await node.peerStore.get(peerIdFromString(peer))).protocols.length > 0;
    } catch {
      return false;
    }
  }, { message: `identify of ${peer}` });
}

/** Two bare libp2p nodes, connected and identified, each with a delivery that answers anyone. */
async function deliveryPair(maxInboundBytes: number) {
  const options = {
    token: generateTokenConfig(),
    listen: LOOPBACK_LISTEN,
    bootstrapPeers: [],
    mdns: false,
    dht: false,
  };
  const a = await createLibp2pNode(options);
  const b = await createLibp2pNode(options);
  const stop = async () => {
    await a.stop();
    await b.stop();
  };
  const sender = blockDelivery({ isMember: () => true, maxInboundBytes })(a);
  const receiver = blockDelivery({ isMember: () => true, maxInboundBytes })(b);
  const received: number[] = [];
  receiver.onPayload((payload) => received.push(payload.byteLength) > 0);
  try {
    await sender.start();
    await receiver.start();
    await a.start();
    await b.start();
    await a.dial(b.getMultiaddrs()[0]!);
    await identified(a, b.peerId.toString());
  } catch (err) {
    await stop();
    throw err;
  }
  return { a, b, sender, received, stop };
}

Deno.test({
  ...NODE_TEST,
  name: "BlockDelivery: members that gossiped to each other send a newcomer the block alone",
  fn: async () => {
    const token = generateTokenConfig();
    const networks: Network[] = [];
    try {
      const seed = await startQuietNode(token);
      const member = await startQuietNode(token, [loopbackAddr(seed)]);
      networks.push(seed, member);
      await waitFor(() => seed.isMember(member.peerId) && member.isMember(seed.peerId), {
        message: "the two members' proofs",
      });
      // Each write reaches the other: from then on their joins are answered by delivery.
      await seed.ledger.put("demo", "k", "v");
      await member.ledger.put("demo", "j", "w");
      const both = (n: Network) => n.ledger.get("demo", "k") === "v" && n.ledger.has("demo", "j");
      await waitFor(() => both(seed) && both(member), { message: "both writes on both" });
      const sent = () => seed.ledger.stats.sentDirect + member.ledger.stats.sentDirect;
      const before = sent();
      const newcomer = await startQuietNode(token, [loopbackAddr(seed)]);
      networks.push(newcomer);
      await untilEvent(newcomer.ledger, "change", () => both(newcomer), 10_000, "the newcomer");
      await waitFor(() => sent() > before, { message: "a delivery to the newcomer" });
    } finally {
      await stopNetworks(networks);
    }
  },
});

Deno.test({
  ...NODE_TEST,
  name: "BlockDelivery: a peer that did not prove membership is refused; a member's block is taken",
  fn: async () => {
    const token = generateTokenConfig();
    const networks: Network[] = [];
    // An outsider (another token) that speaks the protocol and sends a block sealed with the
    // network's key, which a member might have leaked to it: the membership gate alone stops it.
    const outsider = await createLibp2pNode({
      token: generateTokenConfig(),
      listen: LOOPBACK_LISTEN,
      bootstrapPeers: [],
      mdns: false,
      dht: false,
    });
    const outsiderDelivery = blockDelivery({ isMember: () => true, maxInboundBytes: 1 << 20 })(
      outsider,
    );
    try {
      const target = await startQuietNode(token);
      const member = await startQuietNode(token, [loopbackAddr(target)]);
      networks.push(target, member);
      await waitFor(() => target.isMember(member.peerId), { message: "the member's proof" });
      await outsiderDelivery.start();
      await outsider.start();
      await outsider.dial(target.node.getMultiaddrs()[0]!);
      await identified(outsider, target.peerId.toString());

      const intruder = nextBlock(
        target.ledger.block,
        withValue({}, "intruder", "k", '"x"'),
        new Date(),
      );
      const sealed = target.hub.encode({ ...intruder, Index: intruder.Index + 100 }).payload;
      assert.equal(await outsiderDelivery.send(target.peerId.toString(), sealed), false);

      const ours = nextBlock(target.ledger.block, withValue({}, "demo", "k", '"v"'), new Date());
      assert.deepEqual(await member.hub.sendTo(ours, [target.peerId.toString()]), []);
      await untilEvent(
        target.ledger,
        "change",
        () => target.ledger.get("demo", "k") === "v",
        10_000,
        "the member's block at the target",
      );
      assert.equal(target.ledger.has("intruder", "k"), false);

      // A member's payload that is no sealed block is answered "not taken" and counted dropped.
      const raw = byteStream(
        await member.node.dialProtocol(target.node.peerId, BLOCK_DELIVERY_PROTOCOL),
      );
      await raw.write(Uint8Array.of(0, 0, 0, 5, 1, 2, 3, 4, 5));
      assert.equal((await raw.read({ bytes: 1 })).subarray()[0], 0);
      const dropped = Object.values(target.ledger.stats.dropped).reduce((a, b) => a + (b ?? 0), 0);
      assert.equal(dropped, 1);
      assert.equal(target.ledger.get("demo", "k"), "v");
    } finally {
      await outsiderDelivery.stop();
      await outsider.stop();
      await stopNetworks(networks);
    }
  },
});

Deno.test({
  ...NODE_TEST,
  name: "BlockDelivery: a payload above the limit is refused, one at the limit is taken",
  fn: async () => {
    const { b, sender, received, stop } = await deliveryPair(16);
    try {
      assert.equal(await sender.send(b.peerId.toString(), new Uint8Array(17)), false);
      assert.equal(await sender.send(b.peerId.toString(), new Uint8Array(16)), true);
      await waitFor(() => received.length > 0, { message: "the payload at the limit" });
      assert.deepEqual(received, [16]);
      // Not a peer ID: not reached.
      assert.equal(await sender.send("not-a-peer-id", new Uint8Array(1)), false);
    } finally {
      await stop();
    }
  },
});

Deno.test({
  ...NODE_TEST,
  name: "BlockDelivery: a delivery that does not fit beside slow ones being read is refused",
  fn: async () => {
    const { a, b, sender, received, stop } = await deliveryPair(16);
    try {
      // A slow sender announces 12 bytes and sends them later: 12 of the 16 are held.
      const slow = await a.dialProtocol(b.peerId, BLOCK_DELIVERY_PROTOCOL);
      const slowBytes = byteStream(slow);
      await slowBytes.write(Uint8Array.of(0, 0, 0, 12));
      await waitFor(async () => !(await sender.send(b.peerId.toString(), new Uint8Array(8))), {
        message: "a delivery refused while 12 bytes are held",
      });
      await slowBytes.write(new Uint8Array(12));
      assert.equal((await slowBytes.read({ bytes: 1 })).subarray()[0], 1, "the slow one taken");
      assert.equal(await sender.send(b.peerId.toString(), new Uint8Array(8)), true);
      assert.equal(received.at(-1), 8);
      assert.ok(received.includes(12));
    } finally {
      await stop();
    }
  },
});
