/**
 * The wire format of a message: a frame carrying the message kind and type, its payload
 * (JSON text or raw bytes), a timestamp, a nonce, the recipient, the sender's public key and
 * its signature. Pure: no IO.
 *
 * Layout (after the length prefix of the stream):
 *
 * ```text
 * u8      version (1)
 * varint  header length, header: UTF-8 JSON {k, t, e, ts, n, to, re}
 * varint  public key length, public key (libp2p protobuf)
 * varint  signature length, signature
 * …       payload bytes (the rest)
 * ```
 *
 * @module
 */

import { FRAME_VERSION, SIGNATURE_DOMAIN } from "./constants.ts";
import { InvalidFrameError } from "./errors.ts";
import { readVarint, writeVarint } from "./_varint.ts";

/**
 * What a frame is:
 *
 * - `send`: a one-way message, answered by `ack` (or `error`);
 * - `request`: answered by `response` (or `error`);
 * - `ack`, `response`, `error`: answers, whose `replyTo` is the nonce of the frame answered;
 * - `topic`: a topic message (sealed, on gossipsub).
 */
export type FrameKind = "send" | "request" | "ack" | "response" | "error" | "topic";

/** How a frame's payload bytes are to be read: JSON text, or raw bytes. */
export type PayloadEncoding = "json" | "bytes";

/** The signed fields of a frame. */
export interface FrameFields {
  /** What the frame is. */
  kind: FrameKind;
  /** The message type (answers repeat the type of the frame they answer; topics: the topic). */
  type: string;
  /** How to read {@linkcode FrameFields.body}. */
  encoding: PayloadEncoding;
  /** The payload bytes, exactly as signed. */
  body: Uint8Array;
  /** When the sender made the frame, in milliseconds since the epoch. */
  timestamp: number;
  /** A random string the sender never reuses. */
  nonce: string;
  /** The recipient's peer ID, or the gossip name of the topic. */
  recipient: string;
  /** For answers: the nonce of the frame answered; otherwise `""`. */
  replyTo: string;
}

/** A complete frame: its fields, the signer's public key and the signature. */
export interface Frame extends FrameFields {
  /** The signer's public key, libp2p protobuf encoding. */
  publicKey: Uint8Array;
  /** The signature of {@linkcode signingPayload} of the fields. */
  signature: Uint8Array;
}

const KINDS: readonly FrameKind[] = ["send", "request", "ack", "response", "error", "topic"];
const MAX_TYPE_LENGTH = 256;
const MAX_NONCE_LENGTH = 128;
const MAX_RECIPIENT_LENGTH = 256;
const MAX_KEY_BYTES = 1024;
const MAX_HEADER_BYTES = 4096;

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * Encodes a payload: a `Uint8Array` travels as raw bytes, anything else as JSON text
 * (`undefined` becomes `null`).
 *
 * @param value A JSON-serialisable value, or bytes.
 * @returns The encoding and the bytes.
 * @throws {TypeError} If `value` cannot be serialised as JSON.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodePayload } from "./frame.ts";
 *
 * assert.deepEqual(encodePayload({ a: 1 }), {
 *   encoding: "json",
 *   body: new TextEncoder().encode('{"a":1}'),
 * });
 * assert.equal(encodePayload(new Uint8Array([1, 2])).encoding, "bytes");
 * ```
 */
export function encodePayload(value: unknown): { encoding: PayloadEncoding; body: Uint8Array } {
  if (value instanceof Uint8Array) return { encoding: "bytes", body: value };
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (error) {
    throw new TypeError("Cannot encode payload: not serialisable as JSON", { cause: error });
  }
  return { encoding: "json", body: encoder.encode(text ?? "null") };
}

/**
 * Decodes a payload made by {@linkcode encodePayload}.
 *
 * @param encoding How the bytes are to be read.
 * @param body The payload bytes.
 * @returns The JSON value, or a copy of the bytes.
 * @throws {InvalidFrameError} If JSON bytes are not valid UTF-8 JSON.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodePayload, encodePayload } from "./frame.ts";
 *
 * const { encoding, body } = encodePayload(["x", 2]);
 * assert.deepEqual(decodePayload(encoding, body), ["x", 2]);
 * ```
 */
export function decodePayload(encoding: PayloadEncoding, body: Uint8Array): unknown {
  if (encoding === "bytes") return new Uint8Array(body); // a plain copy, even of a node Buffer
  try {
    return JSON.parse(decoder.decode(body));
  } catch (error) {
    throw new InvalidFrameError("Cannot decode payload: not valid JSON", { cause: error });
  }
}

/**
 * The bytes a frame's signature covers: a domain label, then every field (kind, type,
 * encoding, payload, timestamp, nonce, recipient, replyTo), each as a varint length and its
 * bytes. The length prefixes make the encoding unambiguous (`"a|b"` and `"a" "|b"` differ).
 *
 * @param fields The frame fields.
 * @returns The bytes to sign or verify.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { signingPayload } from "./frame.ts";
 *
 * const fields = {
 *   kind: "send" as const,
 *   type: "greet",
 *   encoding: "json" as const,
 *   body: new TextEncoder().encode('"hi"'),
 *   timestamp: 1700000000000,
 *   nonce: "n1",
 *   recipient: "12D3KooWPeer",
 *   replyTo: "",
 * };
 * assert.deepEqual(signingPayload(fields), signingPayload({ ...fields }));
 * assert.notDeepEqual(signingPayload(fields), signingPayload({ ...fields, nonce: "n2" }));
 * ```
 */
export function signingPayload(fields: FrameFields): Uint8Array {
  const parts = [
    encoder.encode(SIGNATURE_DOMAIN),
    encoder.encode(fields.kind),
    encoder.encode(fields.type),
    encoder.encode(fields.encoding),
    fields.body,
    encoder.encode(String(fields.timestamp)),
    encoder.encode(fields.nonce),
    encoder.encode(fields.recipient),
    encoder.encode(fields.replyTo),
  ];
  return concatWithLengths(parts, new Uint8Array(0));
}

/**
 * Encodes a frame to its wire bytes (without the stream's length prefix).
 *
 * @param frame The frame.
 * @returns The bytes.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeFrame, encodeFrame, type Frame } from "./frame.ts";
 *
 * const frame: Frame = {
 *   kind: "request",
 *   type: "echo",
 *   encoding: "bytes",
 *   body: new Uint8Array([1, 2, 3]),
 *   timestamp: 1700000000000,
 *   nonce: "abc",
 *   recipient: "12D3KooWPeer",
 *   replyTo: "",
 *   publicKey: new Uint8Array([8, 1]),
 *   signature: new Uint8Array([4, 5]),
 * };
 * assert.deepEqual(decodeFrame(encodeFrame(frame)), frame);
 * ```
 */
export function encodeFrame(frame: Frame): Uint8Array {
  const header: Record<string, unknown> = {
    k: frame.kind,
    t: frame.type,
    e: frame.encoding,
    ts: frame.timestamp,
    n: frame.nonce,
    to: frame.recipient,
  };
  if (frame.replyTo !== "") header.re = frame.replyTo;
  const prefix = concatWithLengths(
    [encoder.encode(JSON.stringify(header)), frame.publicKey, frame.signature],
    new Uint8Array([FRAME_VERSION]),
  );
  const out = new Uint8Array(prefix.byteLength + frame.body.byteLength);
  out.set(prefix, 0);
  out.set(frame.body, prefix.byteLength);
  return out;
}

/**
 * Decodes and validates a frame's wire bytes.
 *
 * @param bytes The bytes (without the stream's length prefix).
 * @returns The frame; its `body` is a view into `bytes`.
 * @throws {InvalidFrameError} If the bytes are not a valid frame of this version.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeFrame } from "./frame.ts";
 * import { InvalidFrameError } from "./errors.ts";
 *
 * assert.throws(() => decodeFrame(new Uint8Array([1, 200])), InvalidFrameError);
 * ```
 */
export function decodeFrame(bytes: Uint8Array): Frame {
  if (bytes[0] !== FRAME_VERSION) {
    throw new InvalidFrameError(`Cannot decode frame: unsupported version ${bytes[0] ?? "none"}`);
  }
  let offset = 1;
  const take = (max: number, what: string): Uint8Array => {
    const length = readVarint(bytes, offset);
    if (length === undefined || length.value > max) {
      throw new InvalidFrameError(`Cannot decode frame: bad ${what} length`);
    }
    const end = length.next + length.value;
    if (end > bytes.byteLength) {
      throw new InvalidFrameError(`Cannot decode frame: ${what} truncated`);
    }
    offset = end;
    return bytes.subarray(length.next, end);
  };
  const headerBytes = take(MAX_HEADER_BYTES, "header");
  const publicKey = take(MAX_KEY_BYTES, "public key");
  const signature = take(MAX_KEY_BYTES, "signature");
  const header = parseHeader(headerBytes);
  return { ...header, body: bytes.subarray(offset), publicKey, signature };
}

function parseHeader(bytes: Uint8Array): Omit<FrameFields, "body"> {
  let header: unknown;
  try {
    header = JSON.parse(decoder.decode(bytes));
  } catch (error) {
    throw new InvalidFrameError("Cannot decode frame: header is not JSON", { cause: error });
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) {
    throw new InvalidFrameError("Cannot decode frame: header is not an object");
  }
  const h = header as Record<string, unknown>;
  const kind = h.k;
  if (typeof kind !== "string" || !(KINDS as readonly string[]).includes(kind)) {
    throw new InvalidFrameError("Cannot decode frame: unknown kind");
  }
  if (h.e !== "json" && h.e !== "bytes") {
    throw new InvalidFrameError("Cannot decode frame: unknown payload encoding");
  }
  const timestamp = h.ts;
  if (typeof timestamp !== "number" || !Number.isSafeInteger(timestamp) || timestamp < 0) {
    throw new InvalidFrameError("Cannot decode frame: timestamp is not a non-negative integer");
  }
  return {
    kind: kind as FrameKind,
    type: boundedString(h.t, MAX_TYPE_LENGTH, "type", true),
    encoding: h.e,
    timestamp,
    nonce: boundedString(h.n, MAX_NONCE_LENGTH, "nonce", false),
    recipient: boundedString(h.to, MAX_RECIPIENT_LENGTH, "recipient", true),
    replyTo: h.re === undefined ? "" : boundedString(h.re, MAX_NONCE_LENGTH, "reply-to", false),
  };
}

function boundedString(value: unknown, max: number, what: string, allowEmpty: boolean): string {
  if (typeof value !== "string" || value.length > max || (!allowEmpty && value === "")) {
    throw new InvalidFrameError(`Cannot decode frame: bad ${what}`);
  }
  return value;
}

function concatWithLengths(parts: Uint8Array[], head: Uint8Array): Uint8Array {
  const lengths: number[][] = parts.map((p) => {
    const out: number[] = [];
    writeVarint(p.byteLength, out);
    return out;
  });
  const total = head.byteLength +
    parts.reduce((sum, p, i) => sum + p.byteLength + lengths[i]!.length, 0);
  const out = new Uint8Array(total);
  out.set(head, 0);
  let offset = head.byteLength;
  parts.forEach((part, i) => {
    out.set(lengths[i]!, offset);
    offset += lengths[i]!.length;
    out.set(part, offset);
    offset += part.byteLength;
  });
  return out;
}
