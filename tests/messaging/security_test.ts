import {
  loopbackAddr,
  NODE_TEST,
  sleep,
  startJoined,
  startSeed,
  stopNodes,
  waitFor,
} from "./_fixtures.ts";
import assert from "node:assert/strict";
import { generateKeyPair } from "@libp2p/crypto/keys";
import type { Stream } from "@libp2p/interface";
import { peerIdFromPrivateKey, peerIdFromString } from "@libp2p/peer-id";
import { lpStream } from "@libp2p/utils";
import {
  decodeFrame,
  decodePayload,
  encodeFrame,
  encodePayload,
  MESSAGE_PROTOCOL,
  MessageRejectedError,
  MessageTooLargeError,
  type P2PNode,
  PeerDeniedError,
  PeerUnreachableError,
  RateLimitedError,
  type RejectionReason,
  signFrame,
} from "../../src/messaging/mod.ts";
import { generateTokenConfig } from "../../src/token/token.ts";

function rejectedWith(reason: RejectionReason): (error: unknown) => boolean {
  return (error) => error instanceof MessageRejectedError && error.reason === reason;
}

Deno.test({
  name: "a frame with a bad signature is rejected (bad-signature, wrong-sender, wrong-recipient)",
  ...NODE_TEST,
  async fn() {
    const token = generateTokenConfig();
    const keyA = await generateKeyPair("Ed25519");
    let a: P2PNode | undefined;
    let b: P2PNode | undefined;
    try {
      b = await startSeed(token);
      a = await startJoined(token, b, { privateKey: keyA });
      let handled = 0;
      b.handle("greet", () => void handled++);
      const fields = {
        kind: "send" as const,
        type: "greet",
        ...encodePayload("hello"),
        timestamp: Date.now(),
        nonce: crypto.randomUUID(),
        recipient: b.peerId,
        replyTo: "",
      };
      // Signed by A, then the payload is changed after signing.
      const signed = await signFrame(keyA, fields);
      const tampered = encodeFrame({ ...signed, ...encodePayload("HELLO") });
      await assert.rejects(a.sendFrame(b.peerId, tampered), rejectedWith("bad-signature"));
      // Crafted by hand: A's public key, random signature bytes.
      const forged = encodeFrame({
        ...fields,
        nonce: crypto.randomUUID(),
        publicKey: signed.publicKey,
        signature: crypto.getRandomValues(new Uint8Array(64)),
      });
      await assert.rejects(a.sendFrame(b.peerId, forged), rejectedWith("bad-signature"));
      // Validly signed, but by another key than the sending peer's.
      const mallory = await generateKeyPair("Ed25519");
      const foreign = encodeFrame(await signFrame(mallory, { ...fields, nonce: "m1" }));
      await assert.rejects(a.sendFrame(b.peerId, foreign), rejectedWith("wrong-sender"));
      // Validly signed by A, but addressed to someone else.
      const elsewhere = await a.encodeMessage(peerIdFromPrivateKey(mallory).toString(), "greet", 1);
      await assert.rejects(a.sendFrame(b.peerId, elsewhere), rejectedWith("wrong-recipient"));
      // Not a frame at all.
      await assert.rejects(
        a.sendFrame(b.peerId, new Uint8Array([1, 2, 3])),
        rejectedWith("malformed"),
      );
      assert.equal(handled, 0);
      // The untampered frame still goes through.
      await a.sendFrame(b.peerId, encodeFrame(signed));
      assert.equal(handled, 1);
      assert.deepEqual(b.stats().rejected, {
        "bad-signature": 2,
        "wrong-sender": 1,
        "wrong-recipient": 1,
        malformed: 1,
      });
    } finally {
      await stopNodes([a, b]);
    }
  },
});

Deno.test({
  name: "a message with a stale or future timestamp is rejected (stale)",
  ...NODE_TEST,
  async fn() {
    const token = generateTokenConfig();
    let a: P2PNode | undefined;
    let b: P2PNode | undefined;
    try {
      b = await startSeed(token, { maxMessageAgeMs: 5_000 });
      a = await startJoined(token, b);
      b.handle("greet", () => "hi");
      const old = await a.encodeMessage(b.peerId, "greet", 1, { timestamp: Date.now() - 6_000 });
      await assert.rejects(a.sendFrame(b.peerId, old), rejectedWith("stale"));
      const future = await a.encodeMessage(b.peerId, "greet", 1, {
        timestamp: Date.now() + 6_000,
      });
      await assert.rejects(a.sendFrame(b.peerId, future), rejectedWith("stale"));
      const recent = await a.encodeMessage(b.peerId, "greet", 1, {
        kind: "request",
        timestamp: Date.now() - 4_000,
      });
      assert.equal(await a.sendFrame(b.peerId, recent), "hi");
      // A sender whose clock is a minute behind cannot talk to b.
      const skewed = await startJoined(token, b, { now: () => Date.now() - 60_000 });
      try {
        await assert.rejects(
          skewed.request(b.peerId, "greet", null, { retries: 0 }),
          rejectedWith("stale"),
        );
      } finally {
        await skewed.stop();
      }
      assert.equal(b.stats().rejected.stale, 3);
    } finally {
      await stopNodes([a, b]);
    }
  },
});

Deno.test({
  name: "a captured frame resent byte for byte is rejected (replay)",
  ...NODE_TEST,
  async fn() {
    const token = generateTokenConfig();
    let a: P2PNode | undefined;
    let b: P2PNode | undefined;
    try {
      b = await startSeed(token);
      a = await startJoined(token, b);
      let transfers = 0;
      b.handle("transfer", () => ++transfers);
      // Capture what a's messaging layer writes on the wire (above the encryption).
      const node = a.network.node;
      const dial = node.dialProtocol.bind(node);
      const captured: Uint8Array[] = [];
      node.dialProtocol = async (...args: Parameters<typeof dial>): Promise<Stream> => {
        const stream = await dial(...args);
        const send = stream.send.bind(stream);
        stream.send = (data) => {
          captured.push(new Uint8Array(data.subarray()));
          return send(data);
        };
        return stream;
      };
      assert.equal(await a.request(b.peerId, "transfer", { amount: 10 }), 1);
      node.dialProtocol = dial;
      assert.equal(captured.length, 1);
      const wire = captured[0]!; // length prefix + frame, exactly as sent

      // Resend the exact bytes on a fresh stream from the same peer.
      const stream = await dial(peerIdFromString(b.peerId), MESSAGE_PROTOCOL);
      stream.send(wire);
      const answer = decodeFrame((await lpStream(stream).read()).subarray());
      await stream.close();
      assert.equal(answer.kind, "error");
      assert.deepEqual(decodePayload(answer.encoding, answer.body), { code: "replay" });

      // The same through the API: the frame without its length prefix.
      const frame = wire.subarray(wire.byteLength - decodeFrameLength(wire));
      await assert.rejects(a.sendFrame(b.peerId, frame), rejectedWith("replay"));
      assert.equal(transfers, 1);
      assert.equal(b.stats().rejected.replay, 2);
    } finally {
      await stopNodes([a, b]);
    }
  },
});

/** The frame length in a captured `varint length ‖ frame` write. */
function decodeFrameLength(wire: Uint8Array): number {
  let value = 0;
  for (let i = 0; i < 5; i++) {
    const byte = wire[i]!;
    value += (byte & 0x7f) * 2 ** (7 * i);
    if ((byte & 0x80) === 0) return value;
  }
  throw new Error("bad varint");
}

Deno.test({
  name: "a peer over its rate limit gets RateLimitedError; the global limit holds too",
  ...NODE_TEST,
  async fn() {
    const token = generateTokenConfig();
    const nodes: P2PNode[] = [];
    try {
      const b = await startSeed(token, {
        rateLimit: { perPeer: { burst: 3, perSecond: 2 }, global: { burst: 5, perSecond: 1 } },
      });
      nodes.push(b);
      const a = await startJoined(token, b);
      const c = await startJoined(token, b);
      nodes.push(a, c);
      b.handle("hit", () => "ok");
      for (let i = 0; i < 3; i++) assert.equal(await a.request(b.peerId, "hit", i), "ok");
      let limited: RateLimitedError | undefined;
      await assert.rejects(a.request(b.peerId, "hit", 3, { retries: 0 }), (error: unknown) => {
        limited = error as RateLimitedError;
        return error instanceof RateLimitedError;
      });
      assert.equal(limited!.peerId, b.peerId);
      assert.ok(
        limited!.retryAfterMs > 0 && limited!.retryAfterMs <= 500,
        `${limited!.retryAfterMs}`,
      );
      // With retries, the request waits for the advised time and goes through.
      assert.equal(await a.request(b.peerId, "hit", 4, { retries: 3 }), "ok");
      // c has its own bucket, but the global one (5) is now almost empty.
      assert.equal(await c.request(b.peerId, "hit", 0, { retries: 0 }), "ok");
      await assert.rejects(c.request(b.peerId, "hit", 1, { retries: 0 }), RateLimitedError);
      assert.ok((b.stats().rejected["rate-limited"] ?? 0) >= 2);
    } finally {
      await stopNodes(nodes.reverse());
    }
  },
});

Deno.test({
  name: "a frame over the size limit is refused from its length prefix (too-large)",
  ...NODE_TEST,
  async fn() {
    const token = generateTokenConfig();
    let a: P2PNode | undefined;
    let b: P2PNode | undefined;
    try {
      b = await startSeed(token, { maxMessageBytes: 64 * 1024 });
      a = await startJoined(token, b, { maxMessageBytes: 8 * 1024 * 1024 });
      let handled = 0;
      b.handle("upload", () => ++handled);
      for (const size of [100 * 1024, 3 * 1024 * 1024]) {
        await assert.rejects(
          a.request(b.peerId, "upload", new Uint8Array(size), { retries: 0 }),
          (error: unknown) =>
            error instanceof MessageTooLargeError && error.limit === 64 * 1024 &&
            error.message.includes(b!.peerId),
        );
      }
      assert.equal(handled, 0);
      assert.equal(b.stats().rejected["too-large"], 2);
      // The connection and the peer are fine afterwards.
      assert.equal(await a.request(b.peerId, "upload", new Uint8Array(1_000)), 1);
      // The sender checks its own limit before sending anything.
      await assert.rejects(
        b.request(a.peerId, "upload", new Uint8Array(65 * 1024)),
        (error: unknown) => error instanceof MessageTooLargeError && error.size > 65 * 1024,
      );
    } finally {
      await stopNodes([a, b]);
    }
  },
});

Deno.test({
  name: "deny() closes the connection and keeps the peer out until allow()",
  ...NODE_TEST,
  async fn() {
    const token = generateTokenConfig();
    let a: P2PNode | undefined;
    let b: P2PNode | undefined;
    try {
      b = await startSeed(token);
      a = await startJoined(token, b, { reconnect: false });
      b.handle("hello", () => "hi");
      a.handle("hello", () => "hi");
      assert.equal(await a.request(b.peerId, "hello", null), "hi");
      await b.deny(a.peerId);
      assert.deepEqual(b.denied(), [a.peerId]);
      await waitFor(() => !b!.connectedPeers().includes(a!.peerId), { message: "a dropped" });
      // b refuses to message a denied peer, locally.
      await assert.rejects(b.request(a.peerId, "hello", null), PeerDeniedError);
      // a cannot come back: b's gater refuses the connection.
      await assert.rejects(
        a.request(b.peerId, "hello", null, { retries: 0, timeoutMs: 3_000 }),
        PeerUnreachableError,
      );
      await assert.rejects(a.connect(loopbackAddr(b)), PeerUnreachableError);
      assert.ok(!b.connectedPeers().includes(a.peerId));
      b.allow(a.peerId);
      assert.equal(await a.request(b.peerId, "hello", null), "hi");
    } finally {
      await stopNodes([a, b]);
    }
  },
});

Deno.test({
  name: "the gate refuses a peer before its connection is accepted",
  ...NODE_TEST,
  async fn() {
    const token = generateTokenConfig();
    const evilKey = await generateKeyPair("Ed25519");
    const evilId = peerIdFromPrivateKey(evilKey).toString();
    const consulted: { peerId: string; addresses: string[] }[] = [];
    let b: P2PNode | undefined;
    let evil: P2PNode | undefined;
    let good: P2PNode | undefined;
    try {
      b = await startSeed(token, {
        gate: (peerId, addresses) => {
          consulted.push({ peerId, addresses });
          return peerId !== evilId;
        },
      });
      b.handle("hello", () => "hi");
      evil = await startSeed(token, { privateKey: evilKey, reconnect: false });
      await assert.rejects(evil.connect(loopbackAddr(b)), PeerUnreachableError);
      await assert.rejects(
        evil.request(b.peerId, "hello", null, { retries: 0, timeoutMs: 3_000 }),
        PeerUnreachableError,
      );
      await sleep(100);
      assert.ok(!b.connectedPeers().includes(evilId));
      const refused = consulted.find((c) => c.peerId === evilId);
      assert.ok(refused !== undefined, "the gate saw the evil peer");
      assert.ok(refused.addresses.some((addr) => addr.startsWith("/ip4/127.0.0.1/")));
      good = await startJoined(token, b);
      assert.equal(await good.request(b.peerId, "hello", null), "hi");
      // A gate that throws denies.
      const strict = await startSeed(token, {
        gate: () => {
          throw new Error("gate is broken");
        },
      });
      try {
        await assert.rejects(good.connect(loopbackAddr(strict)), PeerUnreachableError);
      } finally {
        await strict.stop();
      }
    } finally {
      await stopNodes([good, evil, b]);
    }
  },
});
