/**
 * The gossip payload of edgevpn's hub (`pkg/hub/message.go`, `pkg/node/connection.go`): a JSON
 * envelope `{"Message":"<hex>","SenderID":"","Annotations":null}` whose `Message` is the
 * AES-256-GCM seal of `gzip(JSON(block))`.
 *
 * Decoding is defensive: every step has a size bound or a typed {@linkcode GossipRejection}, so a
 * peer with the token cannot crash or exhaust a node with one message.
 *
 * @module
 */

import { gunzipSync, gzipSync } from "node:zlib";
import { UnsealError } from "../token/errors.ts";
import { seal, unseal } from "../token/seal.ts";
import { type Block, blockChecksum, InvalidBlockError, parseBlock } from "./block.ts";
import { MAX_INFLATE_RATIO, MIN_INFLATE_BYTES } from "./constants.ts";

/** Size bounds of {@linkcode decodeEnvelope}. */
export interface EnvelopeLimits {
  /** Largest raw pubsub payload accepted, in bytes. */
  maxMessageBytes: number;
  /** Largest decompressed block JSON accepted, in bytes (the gzip bomb guard). */
  maxBlockBytes: number;
}

/**
 * Why {@linkcode decodeEnvelope} dropped a message:
 * - `oversize`: the payload is larger than `maxMessageBytes`;
 * - `not-json`: the payload is not JSON;
 * - `bad-envelope`: the JSON is not an object with a string `Message`;
 * - `bad-hex`: `Message` is not hex, or too short to hold a nonce and a tag;
 * - `wrong-key`: no key authenticates `Message` (another network, or tampered data);
 * - `not-gzip`: the opened message is not gzip data;
 * - `too-large`: the decompressed block is larger than `maxBlockBytes`, or than
 *   {@linkcode MAX_INFLATE_RATIO} times its compressed size (a gzip bomb);
 * - `bad-json`: the decompressed block is not JSON;
 * - `bad-block`: the JSON does not have the shape of a block;
 * - `bad-hash`: the block's `Hash` is not the checksum of its content (genesis blocks aside).
 */
export type GossipRejection =
  | "oversize"
  | "not-json"
  | "bad-envelope"
  | "bad-hex"
  | "wrong-key"
  | "not-gzip"
  | "too-large"
  | "bad-json"
  | "bad-block"
  | "bad-hash";

const DETAILS: Record<GossipRejection, string> = {
  "oversize": "payload too large",
  "not-json": "not JSON",
  "bad-envelope": 'no "Message" string',
  "bad-hex": "message is not sealed hex",
  "wrong-key": "wrong key",
  "not-gzip": "not gzip",
  "too-large": "block too large",
  "bad-json": "block is not JSON",
  "bad-block": "invalid block",
  "bad-hash": "block hash does not match its content",
};

/**
 * Thrown by {@linkcode decodeEnvelope} when a message is dropped; `reason` says at which step.
 * The message never contains a key.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { GossipMessageError } from "./envelope.ts";
 *
 * const err = new GossipMessageError("wrong-key");
 * assert.equal(err.reason, "wrong-key");
 * assert.equal(err.message, "Cannot decode gossip message: wrong key");
 * ```
 */
export class GossipMessageError extends Error {
  /** The step that rejected the message. */
  readonly reason: GossipRejection;

  /**
   * Constructs a new instance.
   *
   * @param reason The step that rejected the message.
   * @param detail What went wrong, for the message; defaults to a text for `reason`.
   * @param options The underlying `cause`, if any.
   */
  constructor(reason: GossipRejection, detail?: string, options?: ErrorOptions) {
    super(`Cannot decode gossip message: ${detail ?? DETAILS[reason]}`, options);
    this.name = "GossipMessageError";
    this.reason = reason;
  }
}

/**
 * Encodes a block as the pubsub payload edgevpn publishes: the bytes of
 * `{"Message":"<hex>","SenderID":"","Annotations":null}` with
 * `Message = seal(sealKey, gzip(JSON.stringify(block)))`.
 *
 * @param block The block to publish (only its five fields are encoded, in Go's order).
 * @param sealKey The current seal key of the network.
 * @returns The payload to publish on the ledger topic.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeEnvelope, encodeEnvelope } from "./envelope.ts";
 * import { genesisBlock } from "./block.ts";
 *
 * const key = "0123456789abcdef0123456789abcdef";
 * const block = genesisBlock(new Date("2026-08-22T10:00:00Z"));
 * const payload = encodeEnvelope(block, key);
 * assert.match(new TextDecoder().decode(payload), /^\{"Message":"[0-9a-f]+","SenderID":""/);
 * const limits = { maxMessageBytes: 1 << 20, maxBlockBytes: 1 << 20 };
 * assert.deepEqual(decodeEnvelope(payload, [key], limits), block);
 * ```
 */
export function encodeEnvelope(block: Block, sealKey: string): Uint8Array {
  const { Index, Timestamp, Storage, Hash, PrevHash } = block;
  const json = JSON.stringify({ Index, Timestamp, Storage, Hash, PrevHash });
  const message = seal(sealKey, gzipSync(new TextEncoder().encode(json)));
  return new TextEncoder().encode(
    JSON.stringify({ Message: message, SenderID: "", Annotations: null }),
  );
}

/**
 * Decodes a pubsub payload into a block, checking every step: the payload size, the envelope
 * JSON, the seal (trying each key in order; the first that authenticates wins), gzip with the
 * decompressed size bounded (decompression stops at the bound), the block JSON, its shape
 * and its hash.
 *
 * @param payload The raw pubsub message data.
 * @param sealKeys The seal keys to try, for example the current and the previous one.
 * @param limits The size bounds.
 * @returns The block, validated by {@linkcode parseBlock}.
 * @throws {GossipMessageError} If the message is dropped; `reason` says why.
 * @throws {RangeError} If a limit is not a positive safe integer (a bug of the caller).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeEnvelope, encodeEnvelope, GossipMessageError } from "./envelope.ts";
 * import { genesisBlock } from "./block.ts";
 *
 * const oldKey = "0123456789abcdef0123456789abcdef";
 * const newKey = "fedcba9876543210fedcba9876543210";
 * const limits = { maxMessageBytes: 1 << 20, maxBlockBytes: 1 << 20 };
 * const payload = encodeEnvelope(genesisBlock(new Date()), oldKey);
 * assert.equal(decodeEnvelope(payload, [newKey, oldKey], limits).Index, 0);
 * assert.throws(
 *   () => decodeEnvelope(payload, [newKey], limits),
 *   (err) => err instanceof GossipMessageError && err.reason === "wrong-key",
 * );
 * ```
 */
export function decodeEnvelope(
  payload: Uint8Array,
  sealKeys: readonly string[],
  limits: EnvelopeLimits,
): Block {
  checkLimits(limits);
  if (payload.byteLength > limits.maxMessageBytes) {
    throw new GossipMessageError(
      "oversize",
      `payload of ${payload.byteLength} bytes exceeds the ${limits.maxMessageBytes} byte limit`,
    );
  }
  const envelope = parseJson(payload, "not-json");
  if (
    typeof envelope !== "object" || envelope === null || Array.isArray(envelope) ||
    !("Message" in envelope) || typeof envelope.Message !== "string"
  ) {
    throw new GossipMessageError("bad-envelope");
  }
  const compressed = open(envelope.Message, sealKeys);
  const json = gunzip(compressed, inflateBound(compressed.byteLength, limits.maxBlockBytes));
  let block: Block;
  try {
    block = parseBlock(parseJson(json, "bad-json"));
  } catch (err) {
    if (!(err instanceof InvalidBlockError)) throw err;
    const detail = err.message.replace(/^Cannot parse block: /, "");
    throw new GossipMessageError("bad-block", `invalid block: ${detail}`, { cause: err });
  }
  // edgevpn never checks it; an unchecked hash lets a sender win every tie with content
  // that does not match, or pass another block's hash off as its own. A Go genesis block's
  // hash is the checksum of an empty block, not of its own fields: index 0 is taken as is.
  if (block.Index !== 0 && block.Hash !== blockChecksum(block)) {
    throw new GossipMessageError("bad-hash");
  }
  return block;
}

function inflateBound(compressedBytes: number, maxBlockBytes: number): number {
  return Math.min(maxBlockBytes, Math.max(MIN_INFLATE_BYTES, compressedBytes * MAX_INFLATE_RATIO));
}

function checkLimits(limits: EnvelopeLimits): void {
  for (const name of ["maxMessageBytes", "maxBlockBytes"] as const) {
    const value = limits[name];
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new RangeError(`Cannot decode gossip message: "${name}" is not a positive integer`);
    }
  }
}

function parseJson(bytes: Uint8Array, reason: GossipRejection): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch (err) {
    throw new GossipMessageError(reason, undefined, { cause: err });
  }
}

/** Unseals with the first key that authenticates. */
function open(sealedHex: string, sealKeys: readonly string[]): Uint8Array {
  let lastError: unknown;
  for (const key of sealKeys) {
    try {
      return unseal(key, sealedHex);
    } catch (err) {
      if (!(err instanceof UnsealError)) throw err;
      if (isMalformed(err)) throw new GossipMessageError("bad-hex", undefined, { cause: err });
      lastError = err;
    }
  }
  throw new GossipMessageError("wrong-key", undefined, { cause: lastError });
}

/** Whether the sealed text itself is unusable (with any key), rather than not authentic. */
function isMalformed(err: UnsealError): boolean {
  return /: (not hex|too short)$/.test(err.message);
}

function gunzip(compressed: Uint8Array, maxBlockBytes: number): Uint8Array {
  try {
    return gunzipSync(compressed, { maxOutputLength: maxBlockBytes });
  } catch (err) {
    if (isTooLarge(err)) {
      throw new GossipMessageError(
        "too-large",
        `block exceeds ${maxBlockBytes} bytes when decompressed`,
        { cause: err },
      );
    }
    throw new GossipMessageError("not-gzip", undefined, { cause: err });
  }
}

function isTooLarge(err: unknown): boolean {
  return err instanceof RangeError ||
    (err instanceof Error && "code" in err && err.code === "ERR_BUFFER_TOO_LARGE");
}
