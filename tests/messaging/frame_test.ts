import "../_helpers/mod.ts";
import assert from "node:assert/strict";
import { generateKeyPair } from "@libp2p/crypto/keys";
import { peerIdFromPrivateKey } from "@libp2p/peer-id";
import {
  decodeFrame,
  decodePayload,
  encodeFrame,
  encodePayload,
  type FrameFields,
  signingPayload,
} from "../../src/messaging/frame.ts";
import { InvalidFrameError } from "../../src/messaging/errors.ts";
import { signFrame, verifyFrame } from "../../src/messaging/signature.ts";

function fields(overrides: Partial<FrameFields> = {}): FrameFields {
  return {
    kind: "request",
    type: "echo",
    ...encodePayload({ hello: "world", n: [1, 2, 3] }),
    timestamp: 1_700_000_000_000,
    nonce: "nonce-1",
    recipient: "12D3KooWRecipient",
    replyTo: "",
    ...overrides,
  };
}

Deno.test("encodeFrame() and decodeFrame() round-trip JSON and byte payloads", async () => {
  const key = await generateKeyPair("Ed25519");
  for (const payload of [{ a: [1, "b", null] }, "text", 42, null, new Uint8Array([0, 255, 7])]) {
    const frame = await signFrame(key, fields({ ...encodePayload(payload), replyTo: "r1" }));
    const decoded = decodeFrame(encodeFrame(frame));
    assert.deepEqual(decoded, frame);
    assert.deepEqual(decodePayload(decoded.encoding, decoded.body), payload);
  }
});

Deno.test("encodePayload() turns undefined into null and refuses what JSON cannot hold", () => {
  assert.deepEqual(decodePayload("json", encodePayload(undefined).body), null);
  assert.throws(() => encodePayload({ big: 1n }), TypeError);
});

Deno.test("decodeFrame() refuses damaged frames with InvalidFrameError", async () => {
  const key = await generateKeyPair("Ed25519");
  const good = encodeFrame(await signFrame(key, fields()));
  const bad: Uint8Array[] = [
    new Uint8Array(0),
    new Uint8Array([2, ...good.subarray(1)]), // unknown version
    good.subarray(0, 10), // truncated header
    new Uint8Array([1, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), // varint too long
  ];
  const header = (h: unknown): Uint8Array => {
    const text = new TextEncoder().encode(JSON.stringify(h));
    return new Uint8Array([1, text.byteLength, ...text, 0, 0]);
  };
  bad.push(header({ k: "nope", t: "x", e: "json", ts: 1, n: "n", to: "" }));
  bad.push(header({ k: "send", t: "x", e: "xml", ts: 1, n: "n", to: "" }));
  bad.push(header({ k: "send", t: "x", e: "json", ts: -1, n: "n", to: "" }));
  bad.push(header({ k: "send", t: "x", e: "json", ts: 1, n: "", to: "" }));
  bad.push(header({ k: "send", t: 5, e: "json", ts: 1, n: "n", to: "" }));
  bad.push(header([1, 2]));
  for (const bytes of bad) assert.throws(() => decodeFrame(bytes), InvalidFrameError);
});

Deno.test("signingPayload() is unambiguous: moving a separator changes it", () => {
  const a = signingPayload(fields({ type: "a|b", nonce: "c" }));
  const b = signingPayload(fields({ type: "a", nonce: "b|c" }));
  assert.notDeepEqual(a, b);
  assert.notDeepEqual(
    signingPayload(fields({ timestamp: 1 })),
    signingPayload(fields({ timestamp: 2 })),
  );
  assert.notDeepEqual(
    signingPayload(fields({ recipient: "x" })),
    signingPayload(fields({ recipient: "y" })),
  );
});

Deno.test("verifyFrame() accepts the signer's frame and names the signer", async () => {
  const key = await generateKeyPair("Ed25519");
  const frame = await signFrame(key, fields());
  assert.deepEqual(await verifyFrame(frame), {
    valid: true,
    signer: peerIdFromPrivateKey(key).toString(),
  });
});

Deno.test("verifyFrame() refuses any change to a signed field", async () => {
  const key = await generateKeyPair("Ed25519");
  const frame = await signFrame(key, fields());
  const changes: Partial<FrameFields>[] = [
    { kind: "send" },
    { type: "other" },
    { encoding: "bytes" },
    { body: new TextEncoder().encode('{"hello":"there"}') },
    { timestamp: frame.timestamp + 1 },
    { nonce: "nonce-2" },
    { recipient: "12D3KooWSomeoneElse" },
    { replyTo: "x" },
  ];
  for (const change of changes) {
    assert.equal((await verifyFrame({ ...frame, ...change })).valid, false, JSON.stringify(change));
  }
});

Deno.test("verifyFrame() refuses another key's signature and unreadable keys", async () => {
  const key = await generateKeyPair("Ed25519");
  const other = await generateKeyPair("Ed25519");
  const frame = await signFrame(key, fields());
  const forged = { ...frame, signature: (await signFrame(other, fields())).signature };
  assert.equal((await verifyFrame(forged)).valid, false);
  assert.deepEqual(await verifyFrame({ ...frame, publicKey: new Uint8Array([1, 2, 3]) }), {
    valid: false,
    signer: "",
  });
});
