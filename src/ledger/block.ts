/**
 * The edgevpn v0.34 ledger block (`pkg/blockchain/block.go`): its JSON shape, its checksum, the
 * merge rule of `Ledger.Update` and copy-on-write edits of its storage.
 *
 * The "chain" is a single replicated snapshot: every node keeps only the last block and adopts a
 * received one when {@linkcode shouldAdopt} says so.
 *
 * @module
 */

import { createHash } from "node:crypto";

/**
 * The storage of a block: bucket → key → value, where each value is the JSON text of the stored
 * value (Go's `Data` string), so values are double-encoded on the wire.
 */
export type Storage = Record<string, Record<string, string>>;

/** A ledger block, with Go's field names (they are also the JSON names on the wire). */
export interface Block {
  /** Position in the chain: the genesis block is 0, each write adds 1. */
  Index: number;
  /** Go `time.Time.String()` of the creation time, for example `2026-08-22 10:00:00.1 +0000 UTC`. */
  Timestamp: string;
  /** The whole replicated state: bucket → key → JSON text. */
  Storage: Storage;
  /** Hex sha256 of the other fields (see {@linkcode blockChecksum}); nobody verifies it. */
  Hash: string;
  /** The `Hash` of the previous block, `""` for the genesis block. */
  PrevHash: string;
}

/**
 * Thrown by {@linkcode parseBlock} when decoded JSON does not have the shape of a block. The
 * message names the offending field.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { InvalidBlockError, parseBlock } from "./block.ts";
 *
 * assert.throws(() => parseBlock({ Index: -1 }), InvalidBlockError);
 * ```
 */
export class InvalidBlockError extends Error {
  /**
   * Constructs a new instance.
   *
   * @param message The error message, naming the field.
   * @param options The underlying `cause`, if any.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "InvalidBlockError";
  }
}

/**
 * Formats a time as Go's `time.Time.String()` does for a UTC time:
 * `2006-01-02 15:04:05.999999999 +0000 UTC`, with trailing zeros of the fraction trimmed and the
 * fraction omitted when zero. `Date` has millisecond precision, so at most 3 fraction digits.
 *
 * @param date The time to format; must be a valid date.
 * @returns The Go representation of `date` in UTC.
 * @throws {RangeError} If `date` is an invalid date.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { goTimeString } from "./block.ts";
 *
 * assert.equal(
 *   goTimeString(new Date("2026-08-22T10:00:00.100Z")),
 *   "2026-08-22 10:00:00.1 +0000 UTC",
 * );
 * assert.equal(goTimeString(new Date("2026-08-22T10:00:00Z")), "2026-08-22 10:00:00 +0000 UTC");
 * ```
 */
export function goTimeString(date: Date): string {
  const ms = date.getTime();
  if (Number.isNaN(ms)) throw new RangeError("Cannot format time: invalid date");
  const pad = (n: number, width = 2): string => String(n).padStart(width, "0");
  const day = `${pad(date.getUTCFullYear(), 4)}-${pad(date.getUTCMonth() + 1)}-${
    pad(date.getUTCDate())
  }`;
  const time = `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${
    pad(date.getUTCSeconds())
  }`;
  const millis = date.getUTCMilliseconds();
  const fraction = millis === 0 ? "" : `.${pad(millis, 3).replace(/0+$/, "")}`;
  return `${day} ${time}${fraction} +0000 UTC`;
}

/**
 * Computes the checksum Go's `Block.Checksum()` computes: the sha256 hex of
 * `fmt.Sprint(Index, Timestamp, Storage, PrevHash)`. `Sprint` adds no space next to a string
 * operand, and prints maps as `map[k1:v1 k2:v2]` with keys in byte order, so the hashed text is
 * `${Index}${Timestamp}map[bucket:map[key:json ...] ...]${PrevHash}`.
 *
 * @param block The block without its `Hash` (any `Hash` property is ignored).
 * @returns The lower-case hex sha256 (64 characters).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { createHash } from "node:crypto";
 * import { blockChecksum } from "./block.ts";
 *
 * const block = { Index: 1, Timestamp: "t", Storage: { b: { k: '"v"' } }, PrevHash: "p" };
 * const expected = createHash("sha256").update('1tmap[b:map[k:"v"]]p').digest("hex");
 * assert.equal(blockChecksum(block), expected);
 * ```
 */
export function blockChecksum(block: Omit<Block, "Hash">): string {
  const record = `${block.Index}${block.Timestamp}${goMapString(block.Storage)}${block.PrevHash}`;
  return createHash("sha256").update(record, "utf8").digest("hex");
}

/**
 * Creates a genesis block, as edgevpn does when its store is empty: index 0, empty storage, no
 * previous hash.
 *
 * @param now The creation time.
 * @returns The genesis block, with its checksum as `Hash`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { blockChecksum, genesisBlock } from "./block.ts";
 *
 * const genesis = genesisBlock(new Date("2026-08-22T10:00:00Z"));
 * assert.equal(genesis.Index, 0);
 * assert.equal(genesis.PrevHash, "");
 * assert.equal(genesis.Hash, blockChecksum(genesis));
 * ```
 */
export function genesisBlock(now: Date): Block {
  return sealed({ Index: 0, Timestamp: goTimeString(now), Storage: {}, PrevHash: "" });
}

/**
 * Creates the block that follows `previous` and holds `storage`, as Go's `Block.NewBlock`.
 *
 * @param previous The current last block.
 * @param storage The complete new storage (the block keeps this reference).
 * @param now The creation time.
 * @returns A block with `Index` one higher, `PrevHash` set to `previous.Hash` and its checksum.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { genesisBlock, nextBlock, withValue } from "./block.ts";
 *
 * const now = new Date("2026-08-22T10:00:00Z");
 * const genesis = genesisBlock(now);
 * const next = nextBlock(genesis, withValue(genesis.Storage, "b", "k", "1"), now);
 * assert.equal(next.Index, 1);
 * assert.equal(next.PrevHash, genesis.Hash);
 * assert.deepEqual(next.Storage, { b: { k: "1" } });
 * ```
 */
export function nextBlock(previous: Block, storage: Storage, now: Date): Block {
  return sealed({
    Index: (previous.Index + 1) % INDEX_MODULUS,
    Timestamp: goTimeString(now),
    Storage: storage,
    PrevHash: previous.Hash,
  });
}

/**
 * Indices are compared as serial numbers modulo this (2⁵³, every index a JS number holds
 * exactly): see {@linkcode shouldAdopt}.
 */
export const INDEX_MODULUS = Number.MAX_SAFE_INTEGER + 1;

/**
 * The merge rule of edgevpn v0.34 `Ledger.Update` — a received block replaces the whole current
 * one when its index is higher, or when the indexes are equal and its hash is greater (Go byte
 * order comparison; the tie-break makes nodes that booted together converge) — with indices
 * compared as serial numbers (RFC 1982) modulo {@linkcode INDEX_MODULUS}: "higher" means
 * ahead by less than half the ring, and the index after 2⁵³−1 is 0.
 *
 * For every index a network reaches by writing (below 2⁵²) this is edgevpn's rule. It differs
 * where edgevpn's freezes: a member that sends a block with an index near the top of the
 * range wins every merge in edgevpn, and no later write can beat it. Here every block has a
 * successor that beats it, so writes keep replicating whatever a member sends.
 *
 * @param current The block held now.
 * @param incoming The block received.
 * @returns Whether to replace `current` with `incoming`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { genesisBlock, nextBlock, shouldAdopt } from "./block.ts";
 *
 * const genesis = genesisBlock(new Date("2026-08-22T10:00:00Z"));
 * const next = nextBlock(genesis, {}, new Date("2026-08-22T10:00:01Z"));
 * assert.equal(shouldAdopt(genesis, next), true);
 * assert.equal(shouldAdopt(next, genesis), false);
 * assert.equal(shouldAdopt(next, next), false);
 * // A block at the top of the range has a successor that beats it.
 * const top = { ...next, Index: Number.MAX_SAFE_INTEGER };
 * const after = nextBlock(top, {}, new Date("2026-08-22T10:00:02Z"));
 * assert.equal(after.Index, 0);
 * assert.equal(shouldAdopt(top, after), true);
 * ```
 */
export function shouldAdopt(current: Block, incoming: Block): boolean {
  // Both are safe integers in [0, 2⁵³): the difference and its wrap stay exact.
  const difference = incoming.Index - current.Index;
  const ahead = difference < 0 ? difference + INDEX_MODULUS : difference;
  // Exactly half the ring apart, neither is ahead of the other: the hash decides, as on a tie.
  if (ahead === 0 || ahead === INDEX_MODULUS / 2) {
    return compareGoStrings(incoming.Hash, current.Hash) > 0;
  }
  return ahead < INDEX_MODULUS / 2;
}

/**
 * Returns a copy of `storage` with `bucket`/`key` set to `json`, creating the bucket if needed.
 * The input is not modified; unchanged buckets are shared with it.
 *
 * @param storage The storage to start from.
 * @param bucket The bucket name.
 * @param key The key inside the bucket.
 * @param json The JSON text of the value (for example `JSON.stringify(value)`).
 * @returns The new storage.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { withValue } from "./block.ts";
 *
 * const before = { a: { x: "1" } };
 * const after = withValue(before, "a", "y", '"two"');
 * assert.deepEqual(after, { a: { x: "1", y: '"two"' } });
 * assert.deepEqual(before, { a: { x: "1" } });
 * ```
 */
export function withValue(storage: Storage, bucket: string, key: string, json: string): Storage {
  const entries = Object.hasOwn(storage, bucket) ? storage[bucket] : undefined;
  return { ...storage, [bucket]: { ...entries, [key]: json } };
}

/**
 * Returns a copy of `storage` without `bucket`/`key`. Like Go's `Ledger.Delete`, the bucket is
 * kept even when it becomes empty. The input is not modified; unchanged buckets are shared with it.
 *
 * @param storage The storage to start from.
 * @param bucket The bucket name.
 * @param key The key to remove.
 * @returns The new storage.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { withoutKey } from "./block.ts";
 *
 * const before = { a: { x: "1" } };
 * assert.deepEqual(withoutKey(before, "a", "x"), { a: {} });
 * assert.deepEqual(before, { a: { x: "1" } });
 * ```
 */
export function withoutKey(storage: Storage, bucket: string, key: string): Storage {
  const entries = Object.hasOwn(storage, bucket) ? storage[bucket] : undefined;
  if (entries === undefined || !Object.hasOwn(entries, key)) return { ...storage };
  const { [key]: _removed, ...rest } = entries;
  return { ...storage, [bucket]: rest };
}

/**
 * Returns a copy of `storage` without `bucket`, as Go's `Ledger.DeleteBucket`. The input is not
 * modified; the other buckets are shared with it.
 *
 * @param storage The storage to start from.
 * @param bucket The bucket to remove.
 * @returns The new storage.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { withoutBucket } from "./block.ts";
 *
 * const before = { a: { x: "1" }, b: {} };
 * assert.deepEqual(withoutBucket(before, "a"), { b: {} });
 * assert.deepEqual(before, { a: { x: "1" }, b: {} });
 * ```
 */
export function withoutBucket(storage: Storage, bucket: string): Storage {
  const { [bucket]: _removed, ...rest } = storage;
  return rest;
}

/**
 * Validates decoded JSON as a block. `Index` must be a non-negative safe integer, `Timestamp`,
 * `Hash` and `PrevHash` strings, and `Storage` an object of objects of strings; a `null` storage
 * or bucket is read as empty, like Go's nil map. Unknown fields are ignored, as Go does.
 *
 * @param value The result of `JSON.parse` of a block.
 * @returns A fresh block (the storage objects are copies).
 * @throws {InvalidBlockError} If a field is missing or has the wrong type.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { InvalidBlockError, parseBlock } from "./block.ts";
 *
 * const block = parseBlock(JSON.parse(
 *   '{"Index":1,"Timestamp":"t","Storage":{"b":{"k":"1"}},"Hash":"h","PrevHash":"p"}',
 * ));
 * assert.deepEqual(block.Storage, { b: { k: "1" } });
 * assert.throws(() => parseBlock({ ...block, Hash: 7 }), InvalidBlockError);
 * ```
 */
export function parseBlock(value: unknown): Block {
  if (!isRecord(value)) throw invalid("the block", "an object");
  const { Index, Timestamp, Storage, Hash, PrevHash } = value;
  if (typeof Index !== "number" || !Number.isSafeInteger(Index) || Index < 0) {
    throw invalid('"Index"', "a non-negative integer");
  }
  if (typeof Timestamp !== "string") throw invalid('"Timestamp"', "a string");
  if (typeof Hash !== "string") throw invalid('"Hash"', "a string");
  if (typeof PrevHash !== "string") throw invalid('"PrevHash"', "a string");
  return { Index, Timestamp, Storage: parseStorage(Storage), Hash, PrevHash };
}

/**
 * Whether JSON writes `name` with an escape (a control character, `"`, a backslash, or half of a
 * surrogate pair). The ledger refuses such bucket and key names, written or received: V8 (Deno
 * 2.9.6) can read an escaped property name back as an earlier, different one (after
 * `JSON.parse('{"a":1,"\\\\":2}')`, `JSON.parse('{"a":1,"\\n":2}')` has the key `"\\"`), so a
 * block holding one could fail its hash on some nodes and not others.
 *
 * @param name A bucket or key name.
 * @returns Whether the ledger refuses it.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { needsJsonEscape } from "./block.ts";
 *
 * assert.equal(needsJsonEscape("12D3KooW…"), false);
 * assert.equal(needsJsonEscape("a\nb"), true);
 * ```
 */
export function needsJsonEscape(name: string): boolean {
  return JSON.stringify(name).length !== name.length + 2;
}

function parseStorage(value: unknown): Storage {
  if (value === null) return {};
  if (!isRecord(value)) throw invalid('"Storage"', "an object");
  return Object.fromEntries(
    Object.entries(value).map(([bucket, entries]) => {
      if (needsJsonEscape(bucket)) throw invalid("a bucket name", "free of JSON escapes");
      return [bucket, parseBucket(bucket, entries)];
    }),
  );
}

function parseBucket(bucket: string, value: unknown): Record<string, string> {
  if (value === null) return {};
  if (!isRecord(value)) throw invalid(`"Storage.${clip(bucket)}"`, "an object");
  return Object.fromEntries(
    Object.entries(value).map(([key, json]) => {
      if (needsJsonEscape(key)) {
        throw invalid(`a key of "Storage.${clip(bucket)}"`, "free of JSON escapes");
      }
      if (typeof json !== "string") {
        throw invalid(`"Storage.${clip(bucket)}.${clip(key)}"`, "a string");
      }
      return [key, json];
    }),
  );
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function invalid(field: string, expected: string): InvalidBlockError {
  return new InvalidBlockError(`Cannot parse block: ${field} is not ${expected}`);
}

/** Shortens names from the network before they go into an error message. */
function clip(name: string): string {
  return name.length > 40 ? `${name.slice(0, 40)}…` : name;
}

function sealed(block: Omit<Block, "Hash">): Block {
  return { ...block, Hash: blockChecksum(block) };
}

/** Go `fmt.Sprint` of `map[string]map[string]Data`: `map[k:v ...]`, keys in byte order. */
function goMapString(storage: Storage): string {
  const buckets = sortedKeys(storage).map((bucket) => {
    const entries = storage[bucket] ?? {};
    const inner = sortedKeys(entries).map((key) => `${key}:${entries[key]}`);
    return `${bucket}:map[${inner.join(" ")}]`;
  });
  return `map[${buckets.join(" ")}]`;
}

function sortedKeys(record: Record<string, unknown>): string[] {
  return Object.keys(record).sort(compareGoStrings);
}

/**
 * Compares strings as Go does (by UTF-8 bytes, which is code point order), not by UTF-16 code
 * units: surrogates (code points above U+FFFF) sort after U+E000–U+FFFF.
 */
function compareGoStrings(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointOrder(x) - codePointOrder(y);
  }
  return a.length - b.length;
}

function codePointOrder(unit: number): number {
  if (unit >= 0xe000) return unit - 0x800;
  if (unit >= 0xd800) return unit + 0x2000;
  return unit;
}
