import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  type Block,
  blockChecksum,
  genesisBlock,
  goTimeString,
  InvalidBlockError,
  nextBlock,
  parseBlock,
  shouldAdopt,
  type Storage,
  withoutBucket,
  withoutKey,
  withValue,
} from "../../src/ledger/block.ts";

/** The example wire block of the reference §3.1, with real hex in place of `<64 hex>`. */
const WIRE_BLOCK =
  `{"Index":42,"Timestamp":"2026-08-22 10:00:00.1 +0000 UTC","Storage":{"healthcheck":{"12D3KooW…":"\\"2026-08-22T10:00:00Z\\""},"services":{"AbCdEfGhIj":"{\\"PeerID\\":\\"12D3KooW…\\",\\"Name\\":\\"AbCdEfGhIj\\"}"},"worker":{"AbCdEfGhIj":"{\\"Name\\":\\"AbCdEfGhIj\\",\\"ID\\":\\"host-AbCdEfGhIj\\",\\"TunnelAddress\\":\\"\\",\\"ServiceID\\":\\"\\",\\"LastSeen\\":\\"2026-08-22T12:00:00.123456789+02:00\\"}"}},"Hash":"${
    "a".repeat(64)
  }","PrevHash":"${"b".repeat(64)}"}`;

function sha256(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex");
}

function block(Index: number, Hash: string): Block {
  return { Index, Timestamp: "t", Storage: {}, Hash, PrevHash: "" };
}

Deno.test("goTimeString() trims trailing zeros of the fraction", () => {
  assert.equal(
    goTimeString(new Date("2026-08-22T10:00:00.100Z")),
    "2026-08-22 10:00:00.1 +0000 UTC",
  );
  assert.equal(
    goTimeString(new Date("2026-08-22T10:00:00.120Z")),
    "2026-08-22 10:00:00.12 +0000 UTC",
  );
  assert.equal(
    goTimeString(new Date("2026-01-02T03:04:05.007Z")),
    "2026-01-02 03:04:05.007 +0000 UTC",
  );
});

Deno.test("goTimeString() omits a zero fraction", () => {
  assert.equal(goTimeString(new Date("2026-08-22T10:00:00Z")), "2026-08-22 10:00:00 +0000 UTC");
});

Deno.test("goTimeString() pads the year to four digits and formats in UTC", () => {
  assert.equal(goTimeString(new Date("0999-12-31T23:59:59Z")), "0999-12-31 23:59:59 +0000 UTC");
  assert.equal(
    goTimeString(new Date("2026-08-22T12:00:00+02:00")),
    "2026-08-22 10:00:00 +0000 UTC",
  );
});

Deno.test("goTimeString() rejects an invalid date", () => {
  assert.throws(() => goTimeString(new Date(NaN)), RangeError);
});

Deno.test("blockChecksum() matches a hand-computed Go Sprint vector", () => {
  const tiny = {
    Index: 3,
    Timestamp: "2026-08-22 10:00:00.1 +0000 UTC",
    Storage: { users: { peerB: '{"a":1}', peerA: '"x"' }, empty: {} },
    PrevHash: "ab",
  };
  // fmt.Sprint(3, ts, storage, "ab"): no spaces next to strings; maps sorted, Data raw.
  const record =
    '32026-08-22 10:00:00.1 +0000 UTCmap[empty:map[] users:map[peerA:"x" peerB:{"a":1}]]ab';
  assert.equal(blockChecksum(tiny), sha256(record));
});

Deno.test("blockChecksum() of an empty storage prints map[]", () => {
  const genesis = { Index: 0, Timestamp: "t", Storage: {}, PrevHash: "" };
  assert.equal(blockChecksum(genesis), sha256("0tmap[]"));
});

Deno.test("blockChecksum() is deterministic and independent of key insertion order", () => {
  const a: Storage = { x: { b: "2", a: "1" }, w: { k: "v" } };
  const b: Storage = { w: { k: "v" }, x: { a: "1", b: "2" } };
  const base = { Index: 7, Timestamp: "t", PrevHash: "p" };
  assert.equal(blockChecksum({ ...base, Storage: a }), blockChecksum({ ...base, Storage: a }));
  assert.equal(blockChecksum({ ...base, Storage: a }), blockChecksum({ ...base, Storage: b }));
  assert.notEqual(
    blockChecksum({ ...base, Storage: a }),
    blockChecksum({ ...base, Storage: withValue(a, "x", "a", "3") }),
  );
  assert.match(blockChecksum({ ...base, Storage: a }), /^[0-9a-f]{64}$/);
});

Deno.test("blockChecksum() sorts keys in Go byte order, not UTF-16 order", () => {
  // U+FF61 is one UTF-16 unit above the surrogates of U+1F600, but its UTF-8 bytes sort lower.
  const storage = { b: { "\u{1F600}": "1", "\uFF61": "2" } };
  const expected = sha256("0tmap[b:map[\uFF61:2 \u{1F600}:1]]");
  assert.equal(
    blockChecksum({ Index: 0, Timestamp: "t", Storage: storage, PrevHash: "" }),
    expected,
  );
});

Deno.test("blockChecksum() ignores a Hash property", () => {
  const genesis = genesisBlock(new Date("2026-08-22T10:00:00Z"));
  const withHash: Block = { ...genesis, Hash: "zz" };
  assert.equal(blockChecksum(withHash), genesis.Hash);
});

Deno.test("genesisBlock() has index 0, empty storage and its own checksum", () => {
  const genesis = genesisBlock(new Date("2026-08-22T10:00:00.5Z"));
  assert.deepEqual(genesis, {
    Index: 0,
    Timestamp: "2026-08-22 10:00:00.5 +0000 UTC",
    Storage: {},
    PrevHash: "",
    Hash: sha256("02026-08-22 10:00:00.5 +0000 UTCmap[]"),
  });
});

Deno.test("nextBlock() links to the previous block", () => {
  const genesis = genesisBlock(new Date("2026-08-22T10:00:00Z"));
  const storage = withValue(genesis.Storage, "b", "k", '"v"');
  const first = nextBlock(genesis, storage, new Date("2026-08-22T10:00:01Z"));
  const second = nextBlock(first, withoutKey(storage, "b", "k"), new Date("2026-08-22T10:00:02Z"));
  assert.equal(first.Index, 1);
  assert.equal(first.PrevHash, genesis.Hash);
  assert.equal(first.Timestamp, "2026-08-22 10:00:01 +0000 UTC");
  assert.equal(first.Storage, storage);
  assert.equal(first.Hash, blockChecksum(first));
  assert.equal(second.Index, 2);
  assert.equal(second.PrevHash, first.Hash);
  assert.equal(second.Hash, blockChecksum(second));
  assert.deepEqual(second.Storage, { b: {} });
  assert.deepEqual(genesis.Storage, {});
});

Deno.test("shouldAdopt() takes the higher index", () => {
  assert.equal(shouldAdopt(block(1, "f"), block(2, "0")), true);
});

Deno.test("shouldAdopt() keeps the current block against a lower index", () => {
  assert.equal(shouldAdopt(block(2, "0"), block(1, "f")), false);
});

Deno.test("shouldAdopt() breaks an equal index by the higher hash", () => {
  assert.equal(shouldAdopt(block(5, "aa"), block(5, "ab")), true);
  assert.equal(shouldAdopt(block(5, "ab"), block(5, "aa")), false);
  assert.equal(shouldAdopt(block(5, "ab"), block(5, "ab")), false);
});

Deno.test("shouldAdopt() compares hashes as Go strings", () => {
  assert.equal(shouldAdopt(block(0, "a"), block(0, "ab")), true);
  assert.equal(shouldAdopt(block(0, "B"), block(0, "a")), true);
  assert.equal(shouldAdopt(block(0, "\uFF61"), block(0, "\u{1F600}")), true);
  assert.equal(shouldAdopt(block(0, "\u{1F600}"), block(0, "\uFF61")), false);
});

Deno.test("withValue() copies on write", () => {
  const before: Storage = { a: { x: "1" }, b: { y: "2" } };
  const frozen = structuredClone(before);
  const after = withValue(before, "a", "z", "3");
  const created = withValue(before, "c", "k", "4");
  const replaced = withValue(before, "a", "x", "5");
  assert.deepEqual(before, frozen);
  assert.deepEqual(after, { a: { x: "1", z: "3" }, b: { y: "2" } });
  assert.deepEqual(created, { a: { x: "1" }, b: { y: "2" }, c: { k: "4" } });
  assert.deepEqual(replaced, { a: { x: "5" }, b: { y: "2" } });
  assert.notEqual(after, before);
  assert.notEqual(after.a, before.a);
});

Deno.test("withValue() handles prototype-like names as plain keys", () => {
  const after = withValue(withValue({}, "__proto__", "toString", "1"), "toString", "k", "2");
  assert.equal(Object.getPrototypeOf(after), Object.prototype);
  assert.deepEqual(Object.keys(after), ["__proto__", "toString"]);
  assert.equal(Object.hasOwn(after, "__proto__"), true);
  assert.deepEqual(after.toString, { k: "2" });
});

Deno.test("withoutKey() keeps the emptied bucket and does not mutate", () => {
  const before: Storage = { a: { x: "1", y: "2" }, b: { z: "3" } };
  const frozen = structuredClone(before);
  assert.deepEqual(withoutKey(before, "a", "x"), { a: { y: "2" }, b: { z: "3" } });
  assert.deepEqual(withoutKey(before, "b", "z"), { a: { x: "1", y: "2" }, b: {} });
  assert.deepEqual(withoutKey(before, "a", "missing"), before);
  assert.deepEqual(withoutKey(before, "missing", "x"), before);
  assert.notEqual(withoutKey(before, "missing", "x"), before);
  assert.deepEqual(before, frozen);
});

Deno.test("withoutBucket() removes the bucket and does not mutate", () => {
  const before: Storage = { a: { x: "1" }, b: {} };
  const frozen = structuredClone(before);
  assert.deepEqual(withoutBucket(before, "a"), { b: {} });
  assert.deepEqual(withoutBucket(before, "missing"), before);
  assert.deepEqual(before, frozen);
});

Deno.test("parseBlock() accepts the example wire block", () => {
  const parsed = parseBlock(JSON.parse(WIRE_BLOCK));
  assert.equal(parsed.Index, 42);
  assert.equal(parsed.Timestamp, "2026-08-22 10:00:00.1 +0000 UTC");
  assert.equal(parsed.Hash, "a".repeat(64));
  assert.equal(parsed.PrevHash, "b".repeat(64));
  assert.deepEqual(Object.keys(parsed.Storage), ["healthcheck", "services", "worker"]);
  assert.equal(parsed.Storage.healthcheck?.["12D3KooW…"], '"2026-08-22T10:00:00Z"');
  const worker = JSON.parse(parsed.Storage.worker?.AbCdEfGhIj ?? "null");
  assert.equal(worker.LastSeen, "2026-08-22T12:00:00.123456789+02:00");
  assert.deepEqual(JSON.parse(JSON.stringify(parsed)), JSON.parse(WIRE_BLOCK));
});

Deno.test("parseBlock() reads a null storage or bucket as empty", () => {
  const base = { Index: 0, Timestamp: "t", Hash: "h", PrevHash: "" };
  assert.deepEqual(parseBlock({ ...base, Storage: null }).Storage, {});
  assert.deepEqual(parseBlock({ ...base, Storage: { a: null, b: { k: "1" } } }).Storage, {
    a: {},
    b: { k: "1" },
  });
});

Deno.test("parseBlock() ignores unknown fields and copies the storage", () => {
  const input = { Index: 1, Timestamp: "t", Storage: { a: { k: "1" } }, Hash: "h", PrevHash: "p" };
  const parsed = parseBlock({ ...input, Extra: true });
  assert.deepEqual(parsed, input);
  assert.notEqual(parsed.Storage, input.Storage);
  assert.notEqual(parsed.Storage.a, input.Storage.a);
});

Deno.test("parseBlock() rejects each wrong shape, naming the field", () => {
  const good = { Index: 1, Timestamp: "t", Storage: { a: { k: "1" } }, Hash: "h", PrevHash: "p" };
  const cases: [unknown, RegExp][] = [
    [null, /the block is not an object/],
    [[], /the block is not an object/],
    ["block", /the block is not an object/],
    [{ ...good, Index: undefined }, /"Index"/],
    [{ ...good, Index: -1 }, /"Index" is not a non-negative integer/],
    [{ ...good, Index: 1.5 }, /"Index"/],
    [{ ...good, Index: "1" }, /"Index"/],
    [{ ...good, Index: 2 ** 53 }, /"Index"/],
    [{ ...good, Timestamp: 0 }, /"Timestamp" is not a string/],
    [{ ...good, Hash: null }, /"Hash" is not a string/],
    [{ ...good, PrevHash: undefined }, /"PrevHash" is not a string/],
    [{ ...good, Storage: undefined }, /"Storage" is not an object/],
    [{ ...good, Storage: [] }, /"Storage" is not an object/],
    [{ ...good, Storage: "x" }, /"Storage" is not an object/],
    [{ ...good, Storage: { a: [] } }, /"Storage\.a" is not an object/],
    [{ ...good, Storage: { a: 1 } }, /"Storage\.a" is not an object/],
    [{ ...good, Storage: { a: { k: 1 } } }, /"Storage\.a\.k" is not a string/],
    [{ ...good, Storage: { a: { k: null } } }, /"Storage\.a\.k" is not a string/],
    [{ ...good, Storage: { a: { k: { v: 1 } } } }, /"Storage\.a\.k" is not a string/],
  ];
  for (const [input, message] of cases) {
    assert.throws(() => parseBlock(input), (err: unknown) => {
      assert.ok(err instanceof InvalidBlockError);
      assert.equal(err.name, "InvalidBlockError");
      assert.match(err.message, /^Cannot parse block: /);
      assert.match(err.message, message);
      return true;
    }, JSON.stringify(input));
  }
});

Deno.test("parseBlock() clips long names in the message", () => {
  const bucket = "b".repeat(1000);
  const input = { Index: 1, Timestamp: "t", Storage: { [bucket]: 1 }, Hash: "h", PrevHash: "" };
  assert.throws(() => parseBlock(input), (err: unknown) => {
    assert.ok(err instanceof InvalidBlockError);
    assert.ok(err.message.length < 120);
    return true;
  });
});
