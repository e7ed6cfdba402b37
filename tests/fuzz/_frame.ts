// Fuzz target: the messaging protocol's frame decoder (`src/messaging/frame.ts`) and what a
// node does next with a decoded frame: verify its signature and decode its payload. Inputs are
// mutations of valid signed frames (raw bytes, the varint lengths, the header JSON) and
// random bytes behind a valid version byte. Properties: decodeFrame and decodePayload throw
// nothing but InvalidFrameError; verifyFrame never throws; and a frame whose signature
// verifies carries exactly the fields that were signed (no mutation forges a signature).
import { generateKeyPair } from "@libp2p/crypto/keys";
import type { PrivateKey } from "@libp2p/interface";
import { isDeepStrictEqual } from "node:util";
import { InvalidFrameError } from "../../src/messaging/errors.ts";
import {
  decodeFrame,
  decodePayload,
  encodeFrame,
  encodePayload,
  type Frame,
  type FrameFields,
  signingPayload,
} from "../../src/messaging/frame.ts";
import { signFrame, verifyFrame } from "../../src/messaging/signature.ts";
import { FuzzFailure, type FuzzTarget } from "./_harness.ts";
import { concat, mutateBytes, mutateText, type Rng, toBase64 } from "./_rng.ts";

const KINDS = ["send", "request", "ack", "response", "error", "topic"] as const;
const encoder = new TextEncoder();

function randomFields(rng: Rng): FrameFields {
  const payload = rng.chance(0.5)
    ? encodePayload(rng.chance(0.5) ? { text: rng.unicode(rng.size(50)), n: rng.u32() } : null)
    : encodePayload(rng.bytes(rng.size(300)));
  return {
    kind: rng.pick(KINDS),
    type: rng.string(rng.range(0, 20), "abcdefghijklmnop./-"),
    encoding: payload.encoding,
    body: payload.body,
    timestamp: 1_700_000_000_000 + rng.u32(),
    nonce: rng.string(rng.range(1, 32), "0123456789abcdef"),
    recipient: rng.chance(0.5) ? "12D3KooWQ9b5kDwWzXjbFM8GcmmhK2JPb5Lv8hC4uRD9A7mB8e8x" : "",
    replyTo: rng.chance(0.5) ? "" : rng.string(16, "0123456789abcdef"),
  };
}

function varint(n: number): Uint8Array {
  const out: number[] = [];
  let rest = n;
  while (rest >= 0x80) {
    out.push((rest % 0x80) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  out.push(rest);
  return Uint8Array.from(out);
}

/** Re-assembles a frame with a replaced header text (the signature stays the original). */
function withHeader(frame: Frame, header: string): Uint8Array {
  const h = encoder.encode(header);
  return concat([
    Uint8Array.of(1),
    varint(h.byteLength),
    h,
    varint(frame.publicKey.byteLength),
    frame.publicKey,
    varint(frame.signature.byteLength),
    frame.signature,
    frame.body,
  ]);
}

function headerOf(frame: Frame): Record<string, unknown> {
  const header: Record<string, unknown> = {
    k: frame.kind,
    t: frame.type,
    e: frame.encoding,
    ts: frame.timestamp,
    n: frame.nonce,
    to: frame.recipient,
  };
  if (frame.replyTo !== "") header.re = frame.replyTo;
  return header;
}

const WEIRD_VALUES: unknown[] = [
  null,
  -1,
  1.5,
  2 ** 53,
  "",
  "x".repeat(300),
  [],
  {},
  true,
  "send",
  "bytes",
  "json",
  "\u0000",
];

interface Case {
  kind: string;
  bytes: Uint8Array;
  /** The fields actually signed (for the forgery check). */
  signed: FrameFields;
  /** An untouched frame must decode and verify. */
  untouched: boolean;
}

async function generate(rng: Rng, key: PrivateKey): Promise<Case> {
  const signed = randomFields(rng);
  const frame = await signFrame(key, signed);
  const valid = encodeFrame(frame);
  switch (rng.int(8)) {
    case 0:
      return { kind: "valid", bytes: valid, signed, untouched: true };
    case 1:
    case 2:
      return { kind: "mutated-bytes", bytes: mutateBytes(rng, valid), signed, untouched: false };
    case 3: {
      // One header field replaced by another type or value.
      const header = headerOf(frame);
      const field = rng.pick(["k", "t", "e", "ts", "n", "to", "re", "extra", "__proto__"]);
      if (rng.chance(0.3)) delete header[field];
      else header[field] = rng.pick(WEIRD_VALUES);
      return {
        kind: "header-field",
        bytes: withHeader(frame, JSON.stringify(header)),
        signed,
        untouched: false,
      };
    }
    case 4:
      return {
        kind: "header-text",
        bytes: withHeader(
          frame,
          mutateText(rng, JSON.stringify(headerOf(frame)), ['"', "{", "}", ",", ":", "\\u0000"]),
        ),
        signed,
        untouched: false,
      };
    case 5: {
      // Lengths that lie: huge, 5+ byte varints, overflowing 2^31, zero.
      const lie = rng.pick([
        Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0x0f),
        Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x80, 0x01),
        Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0x07),
        Uint8Array.of(0x80),
        Uint8Array.of(0),
        varint(rng.u32()),
        varint(rng.int(5000)),
      ]);
      const at = rng.pick([
        1,
        2,
        valid.byteLength - frame.body.byteLength - 1,
        rng.int(valid.byteLength),
      ]);
      return {
        kind: "lying-length",
        bytes: concat([valid.subarray(0, at), lie, valid.subarray(at + 1)]),
        signed,
        untouched: false,
      };
    }
    case 6:
      return {
        kind: "random",
        bytes: concat([
          Uint8Array.of(rng.chance(0.8) ? 1 : rng.int(256)),
          rng.bytes(rng.size(400)),
        ]),
        signed,
        untouched: false,
      };
    default: {
      // A valid frame whose body was swapped or whose key belongs to someone else.
      const other = await signFrame(key, randomFields(rng));
      const swapped: Frame = rng.chance(0.5)
        ? { ...frame, body: other.body }
        : { ...frame, signature: other.signature };
      return { kind: "swapped-part", bytes: encodeFrame(swapped), signed, untouched: false };
    }
  }
}

/** The frame decoder target (skipped when src/messaging has no decoder). */
export const frameTarget: FuzzTarget<PrivateKey> = {
  name: "frame",
  ciCases: 10_000,
  setup: () => generateKeyPair("Ed25519"),
  async run(rng, key) {
    const c = await generate(rng, key);
    let frame: Frame;
    try {
      frame = decodeFrame(c.bytes);
    } catch (err) {
      if (!(err instanceof InvalidFrameError)) {
        throw new FuzzFailure(
          `${c.kind}: decodeFrame threw ${
            err instanceof Error ? `${err.name}: ${err.message}` : String(err)
          } (only InvalidFrameError allowed); bytes (base64) ${toBase64(c.bytes)}`,
        );
      }
      if (c.untouched) {
        throw new FuzzFailure(`${c.kind}: a valid frame was rejected: ${err.message}`);
      }
      return `${c.kind}:rejected`;
    }
    let verification: { valid: boolean; signer: string };
    try {
      verification = await verifyFrame(frame);
    } catch (err) {
      throw new FuzzFailure(
        `${c.kind}: verifyFrame threw ${String(err)}; bytes ${toBase64(c.bytes)}`,
      );
    }
    if (c.untouched && !verification.valid) {
      throw new FuzzFailure(`${c.kind}: a valid frame did not verify`);
    }
    if (verification.valid && !isDeepStrictEqual(signingPayload(frame), signingPayload(c.signed))) {
      throw new FuzzFailure(
        `${c.kind}: a mutated frame verifies with changed fields (forgery); bytes ${
          toBase64(c.bytes)
        }`,
      );
    }
    try {
      decodePayload(frame.encoding, frame.body);
    } catch (err) {
      if (!(err instanceof InvalidFrameError)) {
        throw new FuzzFailure(
          `${c.kind}: decodePayload threw ${String(err)}; bytes ${toBase64(c.bytes)}`,
        );
      }
      return `${c.kind}:payload-rejected`;
    }
    return `${c.kind}:${verification.valid ? "verified" : "bad-signature"}`;
  },
};
