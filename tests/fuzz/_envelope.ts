// Fuzz target: the gossip envelope decoder (JSON envelope → unseal → gunzip → block JSON →
// block shape), as a node runs it on every pubsub message. Inputs are mutations of valid
// envelopes at every layer: raw bytes, the envelope JSON, the sealed hex, the compressed
// bytes (not gzip, truncated, trailing garbage, bombs), the block JSON and its field types
// (including `__proto__` and huge or fractional indexes). Properties: only GossipMessageError
// is thrown, with the reason the layer implies when the case is built for one; a decoded block
// has the documented shape; an untouched envelope decodes to its block; and a ledger fed every
// accepted block keeps working.
import { gzipSync } from "node:zlib";
import { isDeepStrictEqual } from "node:util";
import {
  type Block,
  blockChecksum,
  genesisBlock,
  needsJsonEscape,
  nextBlock,
  type Storage,
} from "../../src/ledger/block.ts";
import {
  decodeEnvelope,
  encodeEnvelope,
  GossipMessageError,
  type GossipRejection,
} from "../../src/ledger/envelope.ts";
import type { BlockChannel } from "../../src/ledger/block_channel.ts";
import { Ledger } from "../../src/ledger/ledger.ts";
import { seal } from "../../src/token/seal.ts";
import { FuzzFailure, type FuzzTarget } from "./_harness.ts";
import { concat, mutateBytes, mutateText, type Rng, toBase64 } from "./_rng.ts";

const KEY = "0123456789abcdef0123456789abcdef";
const PREVIOUS_KEY = "fedcba9876543210fedcba9876543210";
const OTHER_KEY = "00000000000000000000000000000000";
const LIMITS = { maxMessageBytes: 256 * 1024, maxBlockBytes: 64 * 1024 };
const encoder = new TextEncoder();

const NAMES = ["services", "users", "federated", "healthcheck", "__proto__", "constructor", ""];

function randomName(rng: Rng): string {
  return rng.chance(0.3)
    ? rng.pick(NAMES)
    : rng.chance(0.5)
    ? rng.string(rng.range(1, 12), "abcdefghij_-.")
    : rng.unicode(rng.range(0, 10));
}

/** A bucket or key name a valid block may hold: one JSON writes without escapes. */
function storageName(rng: Rng): string {
  for (let i = 0; i < 8; i++) {
    const name = randomName(rng);
    if (!needsJsonEscape(name)) return name;
  }
  return "k";
}

function randomStorage(rng: Rng): Storage {
  const storage: Storage = {};
  for (let b = rng.int(4); b > 0; b--) {
    const bucket: Record<string, string> = {};
    for (let k = rng.int(5); k > 0; k--) {
      Object.defineProperty(bucket, storageName(rng), {
        value: JSON.stringify(rng.chance(0.5) ? rng.unicode(rng.size(40)) : { n: rng.u32() }),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    Object.defineProperty(storage, storageName(rng), {
      value: bucket,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return storage;
}

function randomBlock(rng: Rng): Block {
  const genesis = genesisBlock(new Date(1_700_000_000_000 + rng.u32()));
  if (rng.chance(0.2)) return genesis;
  const { Hash: _, ...next } = {
    ...nextBlock(genesis, randomStorage(rng), new Date(1_700_000_000_000 + rng.u32())),
    Index: rng.pick([1, 2, rng.u32(), Number.MAX_SAFE_INTEGER]),
  };
  // A valid block's hash matches its fields (receivers check it).
  return { ...next, Hash: blockChecksum(next) };
}

/** A JSON value of any type, for replacing fields. */
function randomJsonValue(rng: Rng, depth = 0): unknown {
  switch (rng.int(depth > 2 ? 7 : 9)) {
    case 0:
      return null;
    case 1:
      return rng.chance(0.5);
    case 2:
      return rng.pick([0, -1, 1.5, 2 ** 53, -(2 ** 53), 1e308, -0, rng.u32()]);
    case 3:
      return rng.unicode(rng.size(20));
    case 4:
      return "";
    case 5:
      return rng.string(rng.size(80), "0123456789abcdef");
    case 6:
      return {};
    case 7:
      return Array.from({ length: rng.int(4) }, () => randomJsonValue(rng, depth + 1));
    default: {
      const out: Record<string, unknown> = {};
      for (let i = rng.int(4); i > 0; i--) out[randomName(rng)] = randomJsonValue(rng, depth + 1);
      return out;
    }
  }
}

/** Seals `plain` (bytes after gzip, or whatever the case wants) into an envelope. */
function envelopeOf(message: unknown, extra: Record<string, unknown> = {}): Uint8Array {
  return encoder.encode(
    JSON.stringify({ Message: message, SenderID: "", Annotations: null, ...extra }),
  );
}

function sealedEnvelope(plain: Uint8Array, key = KEY): Uint8Array {
  return envelopeOf(seal(key, plain));
}

/** A block JSON with one field broken in a type-specific way. */
function brokenBlockJson(rng: Rng, block: Block): string {
  const fields: Record<string, unknown> = { ...block };
  const field = rng.pick(["Index", "Timestamp", "Storage", "Hash", "PrevHash", "extra", "bucket"]);
  switch (field) {
    case "Index":
      fields.Index = rng.pick([-1, 1.5, 2 ** 53, "1", null, [], 1e400 as number, -0]);
      break;
    case "Storage":
      fields.Storage = rng.pick<unknown>([
        [],
        "x",
        7,
        { b: [] },
        { b: { k: 1 } },
        { b: { k: null } },
        { b: "x" },
        null,
        { b: null },
        randomJsonValue(rng),
      ]);
      break;
    case "bucket":
      // Keys the JS object model treats specially, set as JSON text.
      return `{"Index":1,"Timestamp":"t","Hash":"h","PrevHash":"","Storage":{"__proto__":{"k":"1"},"constructor":{"prototype":"x"},"b":{"__proto__":"\\"v\\""}}}`;
    case "extra":
      fields[randomName(rng)] = randomJsonValue(rng);
      break;
    default:
      if (rng.chance(0.3)) delete fields[field];
      else fields[field] = randomJsonValue(rng);
  }
  return JSON.stringify(fields);
}

interface Case {
  kind: string;
  payload: Uint8Array;
  /** The block an untouched envelope must decode to. */
  expected?: Block;
  /** The reason the case was built to be rejected for, when it is certain. */
  reason?: GossipRejection;
}

function generate(rng: Rng): Case {
  const block = randomBlock(rng);
  const valid = encodeEnvelope(block, KEY);
  switch (rng.int(15)) {
    case 0:
      return { kind: "valid", payload: valid, expected: block };
    case 1:
      return {
        kind: "valid-previous-key",
        payload: encodeEnvelope(block, PREVIOUS_KEY),
        expected: block,
      };
    case 2:
      return { kind: "wrong-key", payload: encodeEnvelope(block, OTHER_KEY), reason: "wrong-key" };
    case 3:
    case 4:
      return { kind: "mutated-bytes", payload: mutateBytes(rng, valid) };
    case 5: {
      // Mutate the sealed hex inside a well-formed envelope.
      const { Message } = JSON.parse(new TextDecoder().decode(valid)) as { Message: string };
      const hex = mutateText(rng, Message, ["0", "f", "A", "g", " ", "00", "zz"]);
      return { kind: "mutated-hex", payload: envelopeOf(hex) };
    }
    case 6: {
      const variants: [string, Uint8Array, GossipRejection | undefined][] = [
        ["message-not-string", envelopeOf(randomJsonValue(rng, 3)), undefined],
        [
          "no-message",
          encoder.encode(JSON.stringify({ SenderID: "", Annotations: null })),
          "bad-envelope",
        ],
        [
          "envelope-array",
          encoder.encode(JSON.stringify([new TextDecoder().decode(valid)])),
          "bad-envelope",
        ],
        ["envelope-scalar", encoder.encode(JSON.stringify(randomJsonValue(rng, 3))), undefined],
        [
          "envelope-extra",
          envelopeOf(seal(KEY, gzipSync(encoder.encode(JSON.stringify(block)))), {
            [randomName(rng)]: randomJsonValue(rng),
          }),
          undefined,
        ],
        ["odd-hex", envelopeOf("abc"), "bad-hex"],
        ["short-hex", envelopeOf("00".repeat(rng.int(28))), "bad-hex"],
        [
          // Invalid UTF-8 inside the hex: it decodes to U+FFFD, which is not hex.
          "not-utf8",
          concat([valid.subarray(0, 14), Uint8Array.of(0xff, 0xfe), valid.subarray(14)]),
          "bad-hex",
        ],
        ["deep-json", encoder.encode("[".repeat(rng.range(1000, 100_000))), "not-json"],
      ];
      const [kind, payload, reason] = rng.pick(variants);
      return reason === undefined ? { kind, payload } : { kind, payload, reason };
    }
    case 7:
      return {
        kind: "sealed-random",
        payload: sealedEnvelope(rng.bytes(rng.size(2000))),
        reason: "not-gzip",
      };
    case 8: {
      const gz = gzipSync(encoder.encode(JSON.stringify(block)));
      const variant = rng.int(4);
      const plain = variant === 0
        ? gz.subarray(0, rng.int(gz.byteLength)) // truncated
        : variant === 1
        ? concat([gz, rng.bytes(rng.range(1, 64))]) // trailing garbage
        : variant === 2
        ? concat([gz, gz]) // two members
        : mutateBytes(rng, gz);
      return {
        kind: ["gzip-truncated", "gzip-trailing", "gzip-two-members", "gzip-mutated"][variant]!,
        payload: sealedEnvelope(plain),
      };
    }
    case 9: {
      // A gzip bomb: tiny compressed, larger than maxBlockBytes inflated.
      const size = LIMITS.maxBlockBytes + 1 + rng.int(1024 * 1024);
      const filler = new Uint8Array(size).fill(rng.pick([0x20, 0x30, 0x7b]));
      return { kind: "gzip-bomb", payload: sealedEnvelope(gzipSync(filler)), reason: "too-large" };
    }
    case 10:
      return {
        kind: "gzip-not-json",
        payload: sealedEnvelope(
          gzipSync(
            rng.chance(0.5)
              ? rng.bytes(rng.size(500))
              : encoder.encode(mutateText(rng, JSON.stringify(block), ["{", "}", '"', ",", ":"])),
          ),
        ),
      };
    case 11:
      return {
        kind: "gzip-json-not-block",
        payload: sealedEnvelope(gzipSync(encoder.encode(JSON.stringify(randomJsonValue(rng))))),
      };
    case 12:
      return {
        kind: "gzip-broken-block",
        payload: sealedEnvelope(gzipSync(encoder.encode(brokenBlockJson(rng, block)))),
      };
    case 14: {
      // A name JSON must escape, in a block whose hash matches: refused as a block.
      const name = rng.pick(["\\", '"', "\n", "a\u0001", "\ud9e0", "x\udfffy"]);
      const storage: Storage = rng.chance(0.5) ? { [name]: { k: "1" } } : { b: { [name]: "1" } };
      const { Hash: _, ...next } = nextBlock(block, storage, new Date(1_700_000_000_000));
      const escaped = { ...next, Hash: blockChecksum(next) };
      return { kind: "escaped-name", payload: encodeEnvelope(escaped, KEY), reason: "bad-block" };
    }
    default: {
      const size = LIMITS.maxMessageBytes + 1 + rng.int(1024);
      return { kind: "oversize", payload: new Uint8Array(size).fill(0x20), reason: "oversize" };
    }
  }
}

function checkBlock(block: Block, kind: string): void {
  const fail = (what: string): never => {
    throw new FuzzFailure(
      `${kind}: decoded block violates "${what}": ${JSON.stringify(block).slice(0, 500)}`,
    );
  };
  if (!Number.isSafeInteger(block.Index) || block.Index < 0) fail("Index is a safe integer ≥ 0");
  for (const f of [block.Timestamp, block.Hash, block.PrevHash]) {
    if (typeof f !== "string") fail("strings");
  }
  if (typeof block.Storage !== "object" || block.Storage === null) fail("Storage is an object");
  for (const bucket of Object.values(block.Storage)) {
    if (typeof bucket !== "object" || bucket === null || Array.isArray(bucket)) fail("buckets");
    for (const value of Object.values(bucket)) if (typeof value !== "string") fail("values");
    if (Object.keys(bucket).some(needsJsonEscape)) fail("keys are free of JSON escapes");
  }
}

/** A ledger whose channel only records: it receives every accepted block. */
function recordingLedger(): { ledger: Ledger; deliver: (block: Block) => void } {
  let deliver: (block: Block) => void = () => {};
  const channel: BlockChannel = {
    encode: () => undefined,
    publish: () => Promise.resolve(0),
    onBlock: (handler) => (deliver = (block) => handler(block, "fuzz", false)),
    onReject: () => {},
    onPeerJoin: () => {},
    peerCount: () => 0,
  };
  const ledger = new Ledger({ channel });
  return { ledger, deliver: (block) => deliver(block) };
}

/** The gossip envelope target. */
export const envelopeTarget: FuzzTarget<ReturnType<typeof recordingLedger>> = {
  name: "envelope",
  ciCases: 10_000,
  setup() {
    return Promise.resolve(recordingLedger());
  },
  teardown(context) {
    context.ledger.stop();
    return Promise.resolve();
  },
  run(rng, { ledger, deliver }) {
    const c = generate(rng);
    let block: Block;
    try {
      block = decodeEnvelope(c.payload, [KEY, PREVIOUS_KEY], LIMITS);
    } catch (err) {
      if (!(err instanceof GossipMessageError)) {
        throw new FuzzFailure(
          `${c.kind}: decodeEnvelope threw ${
            err instanceof Error ? `${err.name}: ${err.message}` : String(err)
          } (only GossipMessageError allowed); payload (base64) ${
            toBase64(c.payload.subarray(0, 4096))
          }`,
        );
      }
      if (c.expected !== undefined) {
        throw new FuzzFailure(`${c.kind}: a valid envelope was rejected (${err.reason})`);
      }
      if (c.reason !== undefined && err.reason !== c.reason) {
        throw new FuzzFailure(`${c.kind}: rejected as ${err.reason}, expected ${c.reason}`);
      }
      return `${c.kind}:${err.reason}`;
    }
    if (c.reason !== undefined) {
      throw new FuzzFailure(`${c.kind}: accepted, expected a rejection (${c.reason})`);
    }
    checkBlock(block, c.kind);
    if (c.expected !== undefined && !isDeepStrictEqual(block, { ...c.expected })) {
      throw new FuzzFailure(`${c.kind}: decoded block differs from the one encoded`);
    }
    // What the node does next with an accepted block: the ledger merge and its readers.
    deliver(block);
    for (const name of Object.keys(ledger.storage)) {
      const bucket = ledger.bucket(name);
      for (const key of Object.keys(bucket)) ledger.get(name, key);
    }
    return `${c.kind}:accepted`;
  },
};
