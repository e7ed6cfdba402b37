import {
  loopbackAddr,
  NODE_TEST,
  startJoined,
  startSeed,
  stopNodes,
  waitFor,
} from "./_fixtures.ts";
import assert from "node:assert/strict";
import type { Message } from "@libp2p/gossipsub";
import { generateKeyPair } from "@libp2p/crypto/keys";
import {
  encodeFrame,
  encodePayload,
  type P2PNode,
  signFrame,
  type TopicMessage,
} from "../../src/messaging/mod.ts";
import { topicName, topicSealKey } from "../../src/token/derive.ts";
import { seal } from "../../src/token/seal.ts";
import { generateTokenConfig } from "../../src/token/token.ts";

Deno.test({
  name: "publish() reaches every subscriber of the topic, and only them",
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
      const atB: TopicMessage[] = [];
      const atC: TopicMessage[] = [];
      const unsubscribeB = b.subscribe("news", (m) => void atB.push(m));
      c.subscribe("sport", (m) => void atC.push(m));
      await waitFor(() => a.topicPeers("news").includes(b.peerId), { message: "b on news" });
      await waitFor(() => a.topicPeers("sport").includes(c.peerId), { message: "c on sport" });

      assert.ok(await a.publish("news", { headline: "hello" }) >= 1);
      await a.publish("news", new Uint8Array([1, 2, 3]));
      await waitFor(() => atB.length === 2, { message: "b to get both news" });
      assert.deepEqual(atB[0], {
        from: a.peerId,
        topic: "news",
        payload: { headline: "hello" },
        timestamp: atB[0]!.timestamp,
      });
      assert.deepEqual(atB[1]!.payload, new Uint8Array([1, 2, 3]));
      assert.equal(atC.length, 0);

      await a.publish("sport", "goal");
      await waitFor(() => atC.length === 1, { message: "c to get the sport" });
      assert.equal(atB.length, 2);

      // After unsubscribing, b hears nothing more: c, which subscribed meanwhile, hears the
      // message that b would have.
      unsubscribeB();
      const lateAtC: TopicMessage[] = [];
      c.subscribe("news", (m) => void lateAtC.push(m));
      await waitFor(() => !a.topicPeers("news").includes(b.peerId), { message: "b off news" });
      await waitFor(() => a.topicPeers("news").includes(c.peerId), { message: "c on news" });
      await a.publish("news", "late");
      await waitFor(() => lateAtC.length === 1, { message: "c to get the late news" });
      assert.equal(atB.length, 2);
      assert.equal(a.stats().topics.news!.messagesOut, 3);
      assert.equal(b.stats().topics.news!.messagesIn, 2);
    } finally {
      await stopNodes(nodes.reverse());
    }
  },
});

Deno.test({
  name: "subscribe() before start() applies when the node starts",
  ...NODE_TEST,
  async fn() {
    const token = generateTokenConfig();
    let a: P2PNode | undefined;
    let b: P2PNode | undefined;
    try {
      a = await startSeed(token);
      const { createNode } = await import("../../src/messaging/mod.ts");
      b = createNode({
        token,
        listen: ["/ip4/127.0.0.1/tcp/0"],
        mdns: false,
        dht: false,
        bootstrapPeers: [loopbackAddr(a)],
      });
      const got: unknown[] = [];
      b.subscribe("early", ({ payload }) => void got.push(payload));
      await b.start();
      await waitFor(() => a!.topicPeers("early").includes(b!.peerId), { message: "b on early" });
      await a.publish("early", 1);
      await waitFor(() => got.length === 1, { message: "b to get it" });
    } finally {
      await stopNodes([b, a]);
    }
  },
});

Deno.test({
  name: "a node with another token can neither find, read nor forge a topic",
  ...NODE_TEST,
  async fn() {
    const token = generateTokenConfig();
    const otherToken = generateTokenConfig();
    const nodes: P2PNode[] = [];
    try {
      const a = await startSeed(token);
      nodes.push(a);
      const b = await startJoined(token, a);
      nodes.push(b);
      // The outsider connects to a (same libp2p stack, not private mode) with its own token.
      const outsiderKey = await generateKeyPair("Ed25519");
      const outsider = await startJoined(otherToken, a, { privateKey: outsiderKey });
      nodes.push(outsider);
      const atB: TopicMessage[] = [];
      const atOutsider: TopicMessage[] = [];
      b.subscribe("news", (m) => void atB.push(m));
      outsider.subscribe("news", (m) => void atOutsider.push(m));

      // Find: the same topic name maps to another gossip topic for the outsider.
      const name = topicName(token, "news");
      assert.notEqual(topicName(otherToken, "news"), name);
      assert.ok(!name.includes("news"));

      // Read: even subscribed to the member's gossip topic by hand, it gets nothing: members
      // send no gossip to peers that have not proved they hold the token.
      const pubsub = outsider.network.node.services.pubsub;
      const raw: Uint8Array[] = [];
      pubsub.addEventListener("message", (e: CustomEvent<Message>) => {
        if (e.detail.topic === name) raw.push(e.detail.data);
      });
      pubsub.subscribe(name);
      await waitFor(() => a.network.node.services.pubsub.getSubscribers(name).length === 2, {
        message: "a to see b and the outsider on the gossip topic",
      });
      await a.publish("news", { secret: "launch codes" });
      await waitFor(() => atB.length === 1, { message: "delivery to b" });
      // a floods every topic peer it sends to at once: the outsider was not among them.
      assert.deepEqual(raw, []);
      assert.equal(atOutsider.length, 0);

      // Forge: what a hostile node (one that sends to everyone) seals with its own key is
      // refused by members: it never proved it holds the token.
      outsider.network.membership.prove(a.peerId, "challenge");
      const atA: TopicMessage[] = [];
      a.subscribe("news", (m) => void atA.push(m));
      await waitFor(() => pubsub.getSubscribers(name).map(String).includes(a.peerId), {
        message: "the outsider to see a on the gossip topic",
      });
      const frame = encodeFrame(
        await signFrame(outsiderKey, {
          kind: "topic",
          type: "news",
          ...encodePayload({ secret: "fake" }),
          timestamp: Date.now(),
          nonce: crypto.randomUUID(),
          recipient: name,
          replyTo: "",
        }),
      );
      await pubsub.publish(
        name,
        new TextEncoder().encode(seal(topicSealKey(otherToken, "news"), frame)),
      );
      await waitFor(() => (a.stats().rejected["not-member"] ?? 0) >= 1, {
        message: "not-member at a",
      });
      assert.equal(atA.length, 0);
      assert.equal(atB.length, 1);
    } finally {
      await stopNodes(nodes.reverse());
    }
  },
});
