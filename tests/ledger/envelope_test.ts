import assert from "node:assert/strict";
import { gunzipSync, gzipSync } from "node:zlib";
import { seal, unseal } from "../../src/token/seal.ts";
import { type Block, genesisBlock, nextBlock, withValue } from "../../src/ledger/block.ts";
import {
  decodeEnvelope,
  encodeEnvelope,
  type EnvelopeLimits,
  GossipMessageError,
  type GossipRejection,
} from "../../src/ledger/envelope.ts";

const KEY = "0123456789abcdef0123456789abcdef";
const OTHER_KEY = "fedcba9876543210fedcba9876543210";
const LIMITS: EnvelopeLimits = { maxMessageBytes: 1 << 20, maxBlockBytes: 1 << 20 };
const encoder = new TextEncoder();

function sampleBlock(): Block {
  const genesis = genesisBlock(new Date("2026-08-22T10:00:00Z"));
  let storage = withValue(
    genesis.Storage,
    "services",
    "AbCdEfGhIj",
    '{"PeerID":"12D3KooW","Name":"AbCdEfGhIj"}',
  );
  storage = withValue(storage, "healthcheck", "12D3KooW", '"2026-08-22T10:00:00Z"');
  return nextBlock(genesis, storage, new Date("2026-08-22T10:00:00.1Z"));
}

/** The payload of an envelope whose `Message` is `message`. */
function envelope(message: string): Uint8Array {
  return encoder.encode(JSON.stringify({ Message: message, SenderID: "", Annotations: null }));
}

/** The payload of a correctly sealed envelope around arbitrary (already compressed) bytes. */
function sealedEnvelope(inner: Uint8Array, key = KEY): Uint8Array {
  return envelope(seal(key, inner));
}

function assertRejects(
  payload: Uint8Array,
  reason: GossipRejection,
  keys: readonly string[] = [KEY],
  limits: EnvelopeLimits = LIMITS,
): GossipMessageError {
  let caught: unknown;
  try {
    decodeEnvelope(payload, keys, limits);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof GossipMessageError, `expected a GossipMessageError, got ${caught}`);
  assert.equal(caught.reason, reason);
  assert.equal(caught.name, "GossipMessageError");
  assert.match(caught.message, /^Cannot decode gossip message: /);
  assert.ok(!caught.message.includes(KEY) && !caught.message.includes(OTHER_KEY));
  return caught;
}

Deno.test("encodeEnvelope() writes the hub message JSON with Go's key order", () => {
  const text = new TextDecoder().decode(encodeEnvelope(sampleBlock(), KEY));
  assert.ok(text.startsWith('{"Message":"'), text.slice(0, 40));
  assert.ok(text.endsWith('","SenderID":"","Annotations":null}'), text.slice(-60));
  const parsed = JSON.parse(text);
  assert.deepEqual(Object.keys(parsed), ["Message", "SenderID", "Annotations"]);
  assert.match(parsed.Message, /^[0-9a-f]+$/);
});

Deno.test("encodeEnvelope() seals gzip of the block JSON in Go's field order", () => {
  const block = sampleBlock();
  const { Message } = JSON.parse(new TextDecoder().decode(encodeEnvelope(block, KEY)));
  const json = new TextDecoder().decode(gunzipSync(unseal(KEY, Message)));
  assert.ok(
    json.startsWith('{"Index":1,"Timestamp":"2026-08-22 10:00:00.1 +0000 UTC","Storage":{'),
  );
  assert.deepEqual(Object.keys(JSON.parse(json)), [
    "Index",
    "Timestamp",
    "Storage",
    "Hash",
    "PrevHash",
  ]);
  assert.deepEqual(JSON.parse(json), block);
});

Deno.test("encodeEnvelope() encodes only the block fields", () => {
  const block = { ...sampleBlock(), extra: "nope" };
  const { Message } = JSON.parse(new TextDecoder().decode(encodeEnvelope(block, KEY)));
  const json = new TextDecoder().decode(gunzipSync(unseal(KEY, Message)));
  assert.ok(!json.includes("extra"));
});

Deno.test("decodeEnvelope() round-trips encodeEnvelope()", () => {
  const block = sampleBlock();
  assert.deepEqual(decodeEnvelope(encodeEnvelope(block, KEY), [KEY], LIMITS), block);
});

Deno.test("decodeEnvelope() opens with the second of two keys", () => {
  const block = sampleBlock();
  const payload = encodeEnvelope(block, OTHER_KEY);
  assert.deepEqual(decodeEnvelope(payload, [KEY, OTHER_KEY], LIMITS), block);
});

Deno.test("decodeEnvelope() accepts a Go-shaped envelope with a SenderID and annotations", () => {
  const block = sampleBlock();
  const message = seal(KEY, gzipSync(encoder.encode(JSON.stringify(block))));
  const payload = encoder.encode(
    JSON.stringify({ Message: message, SenderID: "12D3KooW", Annotations: { a: 1 } }),
  );
  assert.deepEqual(decodeEnvelope(payload, [KEY], LIMITS), block);
});

Deno.test("decodeEnvelope() accepts a payload of exactly maxMessageBytes", () => {
  const payload = encodeEnvelope(sampleBlock(), KEY);
  const limits = { ...LIMITS, maxMessageBytes: payload.byteLength };
  assert.equal(decodeEnvelope(payload, [KEY], limits).Index, 1);
});

Deno.test("decodeEnvelope() rejects an oversize payload", () => {
  const payload = encodeEnvelope(sampleBlock(), KEY);
  const limits = { ...LIMITS, maxMessageBytes: payload.byteLength - 1 };
  const err = assertRejects(payload, "oversize", [KEY], limits);
  assert.match(err.message, /exceeds the \d+ byte limit/);
});

Deno.test("decodeEnvelope() rejects a payload that is not JSON", () => {
  assertRejects(encoder.encode("{not json"), "not-json");
  assertRejects(new Uint8Array([0x1f, 0x8b, 0x08, 0x00]), "not-json");
  assertRejects(new Uint8Array(0), "not-json");
});

Deno.test("decodeEnvelope() rejects JSON without a Message string", () => {
  assertRejects(encoder.encode('{"SenderID":"","Annotations":null}'), "bad-envelope");
  assertRejects(encoder.encode('{"Message":42}'), "bad-envelope");
  assertRejects(encoder.encode('{"Message":null}'), "bad-envelope");
  assertRejects(encoder.encode("null"), "bad-envelope");
  assertRejects(encoder.encode('["Message"]'), "bad-envelope");
  assertRejects(encoder.encode('"Message"'), "bad-envelope");
});

Deno.test("decodeEnvelope() rejects a Message that is not hex", () => {
  assertRejects(envelope("not hex at all"), "bad-hex");
  assertRejects(envelope("zz"), "bad-hex", [KEY, OTHER_KEY]);
});

Deno.test("decodeEnvelope() rejects a Message too short for a nonce and a tag", () => {
  assertRejects(envelope("00"), "bad-hex");
  assertRejects(envelope(""), "bad-hex");
});

Deno.test("decodeEnvelope() rejects a message sealed with another key", () => {
  const payload = encodeEnvelope(sampleBlock(), OTHER_KEY);
  const err = assertRejects(payload, "wrong-key");
  assert.equal(err.message, "Cannot decode gossip message: wrong key");
  assertRejects(payload, "wrong-key", [KEY, KEY]);
  assertRejects(payload, "wrong-key", []);
});

Deno.test("decodeEnvelope() rejects a tampered message", () => {
  const { Message } = JSON.parse(new TextDecoder().decode(encodeEnvelope(sampleBlock(), KEY)));
  const last = Message.at(-1) === "0" ? "1" : "0";
  assertRejects(envelope(Message.slice(0, -1) + last), "wrong-key");
});

Deno.test("decodeEnvelope() rejects sealed bytes that are not gzip", () => {
  assertRejects(sealedEnvelope(encoder.encode(JSON.stringify(sampleBlock()))), "not-gzip");
  assertRejects(sealedEnvelope(new Uint8Array(0)), "not-gzip");
  const truncated = gzipSync(encoder.encode(JSON.stringify(sampleBlock()))).subarray(0, 20);
  assertRejects(sealedEnvelope(truncated), "not-gzip");
});

Deno.test("decodeEnvelope() stops a gzip bomb at maxBlockBytes", () => {
  const bomb = gzipSync(new Uint8Array(64 * 1024 * 1024), { level: 9 });
  const payload = sealedEnvelope(bomb);
  const err = assertRejects(payload, "too-large", [KEY], {
    maxMessageBytes: 1 << 20,
    maxBlockBytes: 1 << 20,
  });
  assert.match(err.message, /block exceeds 1048576 bytes when decompressed/);
});

Deno.test("decodeEnvelope() accepts a block of exactly maxBlockBytes", () => {
  const block = sampleBlock();
  const size = encoder.encode(JSON.stringify(block)).byteLength;
  const payload = encodeEnvelope(block, KEY);
  assert.deepEqual(decodeEnvelope(payload, [KEY], { ...LIMITS, maxBlockBytes: size }), block);
  assertRejects(payload, "too-large", [KEY], { ...LIMITS, maxBlockBytes: size - 1 });
});

Deno.test("decodeEnvelope() rejects sealed gzip of invalid JSON", () => {
  assertRejects(sealedEnvelope(gzipSync(encoder.encode('{"Index":1,'))), "bad-json");
  assertRejects(sealedEnvelope(gzipSync(new Uint8Array(0))), "bad-json");
});

Deno.test("decodeEnvelope() rejects sealed gzip of JSON with a wrong shape", () => {
  const wrong = { ...sampleBlock(), Index: "1" };
  const err = assertRejects(
    sealedEnvelope(gzipSync(encoder.encode(JSON.stringify(wrong)))),
    "bad-block",
  );
  assert.equal(
    err.message,
    'Cannot decode gossip message: invalid block: "Index" is not a non-negative integer',
  );
  assertRejects(sealedEnvelope(gzipSync(encoder.encode("[]"))), "bad-block");
  assertRejects(
    sealedEnvelope(gzipSync(encoder.encode('{"Index":1,"Timestamp":"t","Storage":{"a":{"k":1}}}'))),
    "bad-block",
  );
});

Deno.test("decodeEnvelope() refuses limits that are not positive integers", () => {
  const payload = encodeEnvelope(sampleBlock(), KEY);
  assert.throws(() => decodeEnvelope(payload, [KEY], { ...LIMITS, maxBlockBytes: 0 }), RangeError);
  assert.throws(
    () => decodeEnvelope(payload, [KEY], { ...LIMITS, maxMessageBytes: Number.NaN }),
    RangeError,
  );
});

Deno.test("GossipMessageError keeps its reason and cause", () => {
  const cause = new Error("inner");
  const err = new GossipMessageError("not-gzip", undefined, { cause });
  assert.equal(err.reason, "not-gzip");
  assert.equal(err.message, "Cannot decode gossip message: not gzip");
  assert.equal(err.cause, cause);
  assert.ok(err instanceof Error);
});
