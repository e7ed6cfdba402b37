import {
  NODE_TEST,
  sleep,
  startJoined,
  startSeed,
  stopNodes,
  waitFor,
  waitMembers,
} from "./_fixtures.ts";
import assert from "node:assert/strict";
import { generateKeyPair } from "@libp2p/crypto/keys";
import { peerIdFromPrivateKey } from "@libp2p/peer-id";
import {
  createNode,
  type IncomingMessage,
  MESSAGE_PROTOCOL,
  NodeNotRunningError,
  type P2PNode,
  PeerUnreachableError,
  RemoteHandlerError,
  RequestTimeoutError,
  UnknownMessageTypeError,
} from "../../src/messaging/mod.ts";
import { encodeToken, generateTokenConfig } from "../../src/token/token.ts";
import { InvalidTokenError } from "../../src/token/errors.ts";

Deno.test({
  name: "request() returns the handler's response; send() runs the handler one-way",
  ...NODE_TEST,
  async fn() {
    const token = generateTokenConfig();
    let a: P2PNode | undefined;
    let b: P2PNode | undefined;
    try {
      a = await startSeed(token);
      b = await startJoined(token, a);
      const seen: IncomingMessage[] = [];
      a.handle("echo", (message) => message.payload);
      a.handle("note", (message) => {
        seen.push(message);
        return "ignored";
      });
      assert.deepEqual(await b.request(a.peerId, "echo", { nested: [1, "two", null] }), {
        nested: [1, "two", null],
      });
      assert.equal(await b.request(a.peerId, "echo", "text"), "text");
      const bytes = await b.request(a.peerId, "echo", new Uint8Array([0, 1, 254, 255]));
      assert.deepEqual(bytes, new Uint8Array([0, 1, 254, 255]));
      assert.equal(await b.send(a.peerId, "note", { hello: "a" }), undefined);
      assert.equal(seen.length, 1);
      assert.equal(seen[0]!.from, b.peerId);
      assert.equal(seen[0]!.kind, "send");
      assert.deepEqual(seen[0]!.payload, { hello: "a" });
      // The other way round too.
      b.handle("whoami", ({ from }) => ({ youAre: from }));
      assert.deepEqual(await a.request(b.peerId, "whoami", null), { youAre: a.peerId });
    } finally {
      await stopNodes([b, a]);
    }
  },
});

Deno.test({
  name: "request() fails fast with UnknownMessageTypeError and RemoteHandlerError",
  ...NODE_TEST,
  async fn() {
    const token = generateTokenConfig();
    let a: P2PNode | undefined;
    let b: P2PNode | undefined;
    try {
      a = await startSeed(token);
      b = await startJoined(token, a);
      a.handle("divide", ({ payload }) => {
        const [x, y] = payload as [number, number];
        if (y === 0) throw new Error("division by zero");
        return x / y;
      });
      // Refused by name (not a time-out): the peer answers an unknown type.
      await assert.rejects(
        b.request(a.peerId, "nope", 1),
        (error: unknown) =>
          error instanceof UnknownMessageTypeError && error.type === "nope" &&
          error.peerId === a!.peerId,
      );
      await assert.rejects(b.send(a.peerId, "nope", 1), UnknownMessageTypeError);
      await assert.rejects(
        b.request(a.peerId, "divide", [1, 0]),
        (error: unknown) =>
          error instanceof RemoteHandlerError && error.remoteMessage === "division by zero",
      );
      assert.equal(await b.request(a.peerId, "divide", [6, 3]), 2);
      assert.equal(a.stats().rejected["unknown-type"], 2);
      // unhandle() makes the type unknown again.
      a.unhandle("divide");
      await assert.rejects(b.request(a.peerId, "divide", [6, 3]), UnknownMessageTypeError);
    } finally {
      await stopNodes([b, a]);
    }
  },
});

Deno.test({
  name: "request() times out with RequestTimeoutError and retries transient failures",
  ...NODE_TEST,
  async fn() {
    const token = generateTokenConfig();
    let a: P2PNode | undefined;
    let b: P2PNode | undefined;
    try {
      a = await startSeed(token);
      b = await startJoined(token, a);
      let calls = 0;
      a.handle("slow", async () => {
        calls++;
        await sleep(calls === 1 ? 1_500 : 0);
        return calls;
      });
      await assert.rejects(
        b.request(a.peerId, "slow", null, { timeoutMs: 300, retries: 0 }),
        (error: unknown) => error instanceof RequestTimeoutError && error.timeoutMs === 300,
      );
      // After a time-out the retry goes through (at-least-once: the handler ran twice).
      calls = 0;
      assert.equal(await b.request(a.peerId, "slow", null, { timeoutMs: 300, retries: 2 }), 2);
      // A peer nobody knows is unreachable, after the retries.
      const stranger = peerIdFromPrivateKey(await generateKeyPair("Ed25519")).toString();
      await assert.rejects(
        b.request(stranger, "slow", null, { retries: 1, timeoutMs: 1_000 }),
        (error: unknown) => error instanceof PeerUnreachableError && error.peerId === stranger,
      );
      // An abort signal stops the operation.
      const controller = new AbortController();
      const pending = b.request(a.peerId, "slow", null, { signal: controller.signal });
      calls = 0;
      controller.abort(new Error("stop"));
      await assert.rejects(pending, { message: "stop" });
    } finally {
      await stopNodes([b, a]);
    }
  },
});

Deno.test({
  name: "broadcast() reaches every connected member",
  ...NODE_TEST,
  async fn() {
    const token = generateTokenConfig();
    const nodes: P2PNode[] = [];
    try {
      const a = await startSeed(token);
      nodes.push(a);
      nodes.push(await startJoined(token, a), await startJoined(token, a));
      const [, b, c] = nodes as [P2PNode, P2PNode, P2PNode];
      // broadcast() sends to the connected members: a proves b and c by the challenge. b and c
      // are not connected (no discovery here) and prove each other only by a block the other
      // signed: when c adopts a's block before writing its own, b sees c holds the current block,
      // skips its join rebroadcast, and c waits for b's next publish (its healthcheck, 30 s).
      // This test is not about that.
      await waitFor(() => [b.peerId, c.peerId].every((p) => a.members().includes(p)), {
        timeoutMs: 8_000,
        message: "the seed to count both joined nodes as members",
      });
      const got: string[] = [];
      for (const n of [b, c]) {
        n.handle("announce", ({ payload, from }) => {
          assert.equal(from, a.peerId);
          got.push(`${n.peerId}:${payload}`);
        });
      }
      const result = await a.broadcast("announce", "hello all");
      assert.deepEqual(result.delivered.sort(), [b.peerId, c.peerId].sort());
      assert.deepEqual(result.failed, []);
      assert.deepEqual(got.sort(), [`${b.peerId}:hello all`, `${c.peerId}:hello all`].sort());
      // A member without a handler is reported as failed, the others still get it.
      c.unhandle("announce");
      const partial = await a.broadcast("announce", "again");
      assert.deepEqual(partial.delivered, [b.peerId]);
      assert.equal(partial.failed.length, 1);
      assert.equal(partial.failed[0]!.peerId, c.peerId);
      assert.ok(partial.failed[0]!.error instanceof UnknownMessageTypeError);
    } finally {
      await stopNodes(nodes.reverse());
    }
  },
});

Deno.test({
  name: "P2PNode reports peers, events, peer info and stats",
  ...NODE_TEST,
  async fn() {
    const token = generateTokenConfig();
    let a: P2PNode | undefined;
    let b: P2PNode | undefined;
    try {
      a = await startSeed(token);
      const events: string[] = [];
      a.addEventListener("peer:connect", (e) => events.push(`connect:${e.detail.peerId}`));
      a.addEventListener("peer:disconnect", (e) => events.push(`disconnect:${e.detail.peerId}`));
      const messages: IncomingMessage[] = [];
      a.addEventListener("message", (e) => messages.push(e.detail));
      a.handle("echo", ({ payload }) => payload);
      b = await startJoined(token, a, { reconnect: false });
      const bId = b.peerId;
      await waitFor(() => events.includes(`connect:${bId}`), { message: "peer:connect" });
      assert.deepEqual(a.connectedPeers(), [bId]);
      assert.ok(a.addresses().every((addr) => addr.endsWith(`/p2p/${a!.peerId}`)));
      for (let i = 0; i < 5; i++) await b.request(a.peerId, "echo", "x".repeat(100));
      assert.equal(messages.length, 5);
      assert.equal(messages[0]!.type, "echo");

      await waitMembers([a, b]);
      const info = await waitFor(async () => {
        const i = await a!.peerInfo(bId);
        return i?.rttMs !== undefined && i.agent !== undefined ? i : undefined;
      }, { message: "heartbeat RTT and identify of b" });
      assert.equal(info.connected, true);
      assert.equal(info.member, true);
      assert.ok(info.protocols.includes(MESSAGE_PROTOCOL), info.protocols.join(","));
      assert.match(info.agent!, /p2p/);
      assert.ok(info.addresses.some((addr) => addr.startsWith("/ip4/127.0.0.1/")));
      assert.ok(info.connectedSince! <= Date.now() && info.connectedSince! > Date.now() - 60_000);
      // Another last character (an ID that ends in "x" stays itself with "x": 1 run in 58).
      const unknown = a.peerId.replace(/.$/, a.peerId.endsWith("x") ? "y" : "x");
      assert.equal(await a.peerInfo(unknown).catch(() => undefined), undefined);

      const statsA = a.stats();
      assert.deepEqual(statsA.peers.map((p) => p.peerId), [bId]);
      assert.equal(statsA.peers[0]!.member, true);
      assert.equal(typeof statsA.peers[0]!.rttMs, "number");
      assert.equal(statsA.types.echo!.messagesIn, 5);
      assert.equal(statsA.types.echo!.messagesOut, 0);
      assert.ok(statsA.types.echo!.bytesIn > 500);
      const statsB = b.stats();
      assert.equal(statsB.types.echo!.messagesOut, 5);
      assert.equal(statsB.requestLatencyMs.count, 5);
      assert.ok(statsB.requestLatencyMs.p50 > 0);
      assert.ok(statsB.requestLatencyMs.p50 <= statsB.requestLatencyMs.p90);
      assert.ok(statsB.requestLatencyMs.p90 <= statsB.requestLatencyMs.p99);

      await b.stop();
      await waitFor(() => events.includes(`disconnect:${bId}`), { message: "peer:disconnect" });
    } finally {
      await stopNodes([b, a]);
    }
  },
});

Deno.test({
  name: "createNode() starts on first use, and refuses work once stopped",
  ...NODE_TEST,
  async fn() {
    const token = encodeToken(generateTokenConfig());
    assert.throws(() => createNode({ token: "not a token" }), InvalidTokenError);
    const seed = await startSeed(token);
    const node = createNode({
      token,
      listen: ["/ip4/127.0.0.1/tcp/0"],
      mdns: false,
      dht: false,
      bootstrapPeers: [],
    });
    try {
      seed.handle("ping", () => "pong");
      // Usable at once: its identity is made at creation.
      assert.match(node.peerId, /^12D3KooW/);
      assert.equal(node.isRunning(), false);
      assert.deepEqual(node.addresses(), []);
      assert.equal(await node.connect(seed.addresses()[0]!), seed.peerId);
      assert.equal(node.isRunning(), true);
      assert.equal(await node.request(seed.peerId, "ping", null), "pong");
      const id = node.peerId;
      await node.stop();
      assert.equal(node.isRunning(), false);
      await assert.rejects(node.request(seed.peerId, "ping", null), NodeNotRunningError);
      assert.throws(() => node.network, NodeNotRunningError);
      // A restart keeps the identity.
      await node.start();
      assert.equal(node.peerId, id);
      await node.connect(seed.addresses()[0]!);
      assert.equal(await node.request(seed.peerId, "ping", null), "pong");
    } finally {
      await stopNodes([node, seed]);
    }
  },
});
