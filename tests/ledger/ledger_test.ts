import assert from "node:assert/strict";
import { type Block, nextBlock, withValue } from "../../src/ledger/block.ts";
import type { GossipRejection } from "../../src/ledger/envelope.ts";
import { LedgerWriteError } from "../../src/ledger/errors.ts";
import { type BlockChannel, Ledger } from "../../src/ledger/ledger.ts";
import { waitFor } from "../_helpers/wait.ts";

const T0 = Date.parse("2026-08-22T10:00:00Z");

/** A clock that stands still: nothing in these tests depends on time passing. */
function fixedClock(at: number): () => number {
  return () => at;
}

/** Blocks in flight between fake channels, delivered only when the test says so. */
class Wire {
  readonly pending: { to: FakeChannel; block: Block; from: string }[] = [];

  /** Delivers in order until nothing is in flight; fails if it never settles. */
  flush(maxDeliveries = 50): number {
    let count = 0;
    while (this.pending.length > 0) {
      const { to, block, from } = this.pending.shift()!;
      if (++count > maxDeliveries) {
        throw new Error(`the ledgers did not settle after ${maxDeliveries} deliveries`);
      }
      to.deliver(block, from);
    }
    return count;
  }
}

/** An in-memory {@linkcode BlockChannel}: what one ledger publishes, its peers receive. */
class FakeChannel implements BlockChannel {
  readonly peers: FakeChannel[] = [];
  readonly sent: Block[] = [];
  #blockHandlers: ((block: Block, from: string) => void)[] = [];
  #rejectHandlers: ((reason: GossipRejection, from: string) => void)[] = [];
  #joinHandlers: (() => void)[] = [];

  constructor(
    readonly name: string,
    readonly wire: Wire,
    readonly maxBlockBytes = 64 * 1024,
  ) {}

  encode(block: Block): number {
    const size = JSON.stringify(block).length;
    if (size > this.maxBlockBytes) {
      throw new LedgerWriteError(`Cannot write to the ledger: block of ${size} bytes is too large`);
    }
    return size;
  }

  publish(block: Block): Promise<number> {
    this.encode(block);
    this.sent.push(block);
    for (const peer of this.peers) {
      this.wire.pending.push({ to: peer, block: structuredClone(block), from: this.name });
    }
    return Promise.resolve(this.peers.length);
  }

  onBlock(handler: (block: Block, from: string) => void): void {
    this.#blockHandlers.push(handler);
  }

  onReject(handler: (reason: GossipRejection, from: string) => void): void {
    this.#rejectHandlers.push(handler);
  }

  onPeerJoin(handler: () => void): void {
    this.#joinHandlers.push(handler);
  }

  deliver(block: Block, from: string): void {
    for (const handler of this.#blockHandlers) handler(block, from);
  }

  reject(reason: GossipRejection, from: string): void {
    for (const handler of this.#rejectHandlers) handler(reason, from);
  }

  peerJoined(): void {
    for (const handler of this.#joinHandlers) handler();
  }
}

interface Pair {
  wire: Wire;
  a: Ledger;
  b: Ledger;
  channelA: FakeChannel;
  channelB: FakeChannel;
  stop(): void;
}

/** Two ledgers wired to each other, each with its own clock. */
function pair(options: { maxBlockBytes?: number; reannounceIntervalMs?: number } = {}): Pair {
  const wire = new Wire();
  const channelA = new FakeChannel("A", wire, options.maxBlockBytes);
  const channelB = new FakeChannel("B", wire, options.maxBlockBytes);
  channelA.peers.push(channelB);
  channelB.peers.push(channelA);

  const extra = options.reannounceIntervalMs === undefined
    ? {}
    : { reannounceIntervalMs: options.reannounceIntervalMs };
  const a = new Ledger({ channel: channelA, now: fixedClock(T0), ...extra });
  const b = new Ledger({ channel: channelB, now: fixedClock(T0 + 7), ...extra });
  return {
    wire,
    a,
    b,
    channelA,
    channelB,
    stop() {
      a.stop();
      b.stop();
    },
  };
}

Deno.test("Ledger.put() stores the value as JSON text and get() parses it back", async () => {
  const { a, b, wire, channelA, stop } = pair();
  try {
    assert.equal(a.block.Index, 0);
    await a.put("demo", "greeting", { hello: "world" });
    await a.put("demo", "count", 3);
    await a.put("other", "flag", true);
    assert.deepEqual(a.get("demo", "greeting"), { hello: "world" });
    assert.equal(a.get("demo", "count"), 3);
    assert.equal(a.get("demo", "missing"), undefined);
    assert.equal(a.get("missing", "greeting"), undefined);
    assert.equal(a.has("demo", "count"), true);
    assert.equal(a.has("demo", "missing"), false);
    // Values are double-encoded, as Go's Data strings.
    assert.deepEqual(a.storage, {
      demo: { greeting: '{"hello":"world"}', count: "3" },
      other: { flag: "true" },
    });
    assert.deepEqual(a.bucket("demo"), { greeting: { hello: "world" }, count: 3 });
    assert.deepEqual(a.bucket("missing"), {});
    assert.equal(a.block.Index, 3);
    assert.equal(channelA.sent.length, 3, "each write publishes the whole block");
    assert.equal(channelA.sent.at(-1), a.block);

    wire.flush();
    assert.deepEqual(b.storage, a.storage);
    assert.equal(b.block.Hash, a.block.Hash);
  } finally {
    stop();
  }
});

Deno.test("Ledger.put() of undefined stores JSON null", async () => {
  const { a, stop } = pair();
  try {
    await a.put("demo", "nothing", undefined);
    assert.equal(a.storage.demo?.nothing, "null");
    assert.equal(a.get("demo", "nothing"), null);
    assert.equal(a.has("demo", "nothing"), true);
  } finally {
    stop();
  }
});

Deno.test("Ledger.put() emits a local change event with the new block", async () => {
  const { a, b, wire, stop } = pair();
  try {
    const seenA: { index: number; local: boolean }[] = [];
    const seenB: { index: number; local: boolean }[] = [];
    a.addEventListener("change", (e) => {
      const { block, local } = (e as CustomEvent<{ block: Block; local: boolean }>).detail;
      seenA.push({ index: block.Index, local });
    });
    b.addEventListener("change", (e) => {
      const { block, local } = (e as CustomEvent<{ block: Block; local: boolean }>).detail;
      seenB.push({ index: block.Index, local });
    });
    await a.put("demo", "k", 1);
    wire.flush();
    assert.deepEqual(seenA, [{ index: 1, local: true }]);
    assert.deepEqual(seenB, [{ index: 1, local: false }]);
  } finally {
    stop();
  }
});

Deno.test("Ledger.delete() removes the key everywhere and keeps the bucket", async () => {
  const { a, b, wire, stop } = pair();
  try {
    await a.put("demo", "k1", "one");
    await a.put("demo", "k2", "two");
    wire.flush();
    await a.delete("demo", "k1");
    wire.flush();
    for (const ledger of [a, b]) {
      assert.equal(ledger.get("demo", "k1"), undefined);
      assert.equal(ledger.get("demo", "k2"), "two");
    }
    await a.delete("demo", "k2");
    wire.flush();
    assert.deepEqual(a.storage, { demo: {} });
    assert.deepEqual(b.storage, { demo: {} });
    assert.equal(b.block.Index, 4);
  } finally {
    stop();
  }
});

Deno.test("Ledger.delete() of a missing key writes no block", async () => {
  const { a, channelA, stop } = pair();
  try {
    await a.put("demo", "k", 1);
    const before = a.block;
    await a.delete("demo", "missing");
    await a.delete("nobucket", "k");
    assert.equal(a.block, before);
    assert.equal(channelA.sent.length, 1);
  } finally {
    stop();
  }
});

Deno.test("Ledger.deleteBucket() removes the bucket on both ledgers", async () => {
  const { a, b, wire, channelA, stop } = pair();
  try {
    await a.put("gone", "x", 1);
    await a.put("gone", "y", 2);
    await b.put("kept", "z", 3);
    wire.flush();
    await a.deleteBucket("gone");
    wire.flush();
    assert.deepEqual(a.storage, { kept: { z: "3" } });
    assert.deepEqual(b.storage, { kept: { z: "3" } });
    const sent = channelA.sent.length;
    await a.deleteBucket("never-existed");
    assert.equal(channelA.sent.length, sent, "deleting a missing bucket writes no block");
  } finally {
    stop();
  }
});

Deno.test("Ledger.deleteBucket() on another node: the owner writes its entries back", async () => {
  const { a, b, wire, stop } = pair();
  try {
    await a.put("owned", "x", 1);
    await b.put("owned", "y", 2);
    wire.flush();
    await a.deleteBucket("owned");
    wire.flush();
    // b still owns y and keeps it announced; a's own x stays deleted.
    assert.deepEqual(a.storage, { owned: { y: "2" } });
    assert.deepEqual(b.storage, { owned: { y: "2" } });
    assert.equal(b.stats.reannounced, 1);
  } finally {
    stop();
  }
});

Deno.test("Ledger.deleteBucket() stops announcing the bucket's own entries", async () => {
  const { a, b, wire, stop } = pair();
  try {
    await a.put("gone", "x", 1);
    await a.put("kept", "z", 3);
    wire.flush();
    await a.deleteBucket("gone");
    // b writes concurrently on top of the old block and wins by index.
    await b.put("other", "p", 1);
    await b.put("other", "q", 2);
    wire.flush();
    assert.equal(a.has("gone", "x"), true, "b's block brought the bucket back");
    assert.equal(a.stats.reannounced, 0, "a does not re-add entries of a deleted bucket");
    assert.deepEqual(a.storage, b.storage);
  } finally {
    stop();
  }
});

Deno.test("Ledger.stats counts published, applied, ignored, dropped and the index", async () => {
  const { a, b, wire, channelB, stop } = pair();
  try {
    assert.deepEqual(b.stats, {
      index: 0,
      applied: 0,
      ignored: 0,
      dropped: {},
      published: 0,
      reannounced: 0,
    });
    await a.put("demo", "k", 1);
    await a.put("demo", "k", 2);
    wire.flush();
    // A rebroadcast of the same block loses the merge rule.
    a.sync();
    await waitFor(() => a.stats.published === 3, { message: "the rebroadcast" });
    wire.flush();
    channelB.reject("wrong-key", "X");
    channelB.reject("wrong-key", "X");
    channelB.reject("bad-hex", "X");
    assert.deepEqual(b.stats, {
      index: 2,
      applied: 2,
      ignored: 1,
      dropped: { "wrong-key": 2, "bad-hex": 1 },
      published: 0,
      reannounced: 0,
    });
    assert.equal(a.stats.published, 3);
    assert.equal(a.stats.index, 2);
    // stats is a copy.
    const copy = b.stats;
    copy.dropped["wrong-key"] = 99;
    assert.equal(b.stats.dropped["wrong-key"], 2);
  } finally {
    stop();
  }
});

Deno.test("Ledger rebroadcasts its whole block when a peer joins", async () => {
  const { a, b, wire, channelA, channelB, stop } = pair();
  try {
    channelA.peers.length = 0; // b is not listening yet
    await a.put("demo", "k", "v");
    wire.flush();
    assert.equal(b.has("demo", "k"), false);
    channelA.peers.push(channelB);
    channelA.peerJoined();
    wire.flush();
    assert.equal(b.get("demo", "k"), "v");
    assert.equal(b.block.Hash, a.block.Hash);
  } finally {
    stop();
  }
});

Deno.test("Ledger adopts a received block by the merge rule: higher index, then greater hash", () => {
  const { b, channelB, channelA, stop } = pair();
  try {
    const at = (s: number) => new Date(T0 + s * 1000);
    const one = nextBlock(b.block, withValue({}, "x", "k", "1"), at(1));
    channelB.deliver(one, "X");
    assert.deepEqual(b.block, one);

    const [low, high] = [
      nextBlock(one, withValue(one.Storage, "x", "k", '"low?"'), at(2)),
      nextBlock(one, withValue(one.Storage, "x", "k", '"high?"'), at(2)),
    ].sort((p, q) => (p.Hash < q.Hash ? -1 : 1)) as [Block, Block];
    assert.notEqual(low.Hash, high.Hash);
    channelB.deliver(low, "X");
    assert.deepEqual(b.block, low, "a higher index wins");
    channelB.deliver(high, "X");
    assert.deepEqual(b.block, high, "at equal index the greater hash wins");
    channelB.deliver(low, "X");
    assert.deepEqual(b.block, high, "at equal index a smaller hash loses");
    channelB.deliver(one, "X");
    assert.deepEqual(b.block, high, "a lower index loses");
    channelB.deliver(high, "X");
    assert.deepEqual(b.block, high, "the same block again changes nothing");

    // A block far ahead replaces everything, even without b's keys (whole-snapshot replace).
    const far = { ...nextBlock(high, { y: { k: '"far"' } }, at(3)), Index: 40 };
    channelB.deliver(far, "X");
    assert.deepEqual(b.storage, { y: { k: '"far"' } });
    assert.equal(b.block.Index, 40);
    assert.deepEqual(b.stats, {
      index: 40,
      applied: 4,
      ignored: 3,
      dropped: {},
      published: 0,
      reannounced: 0,
    });
    assert.equal(channelA.sent.length, 0);
  } finally {
    stop();
  }
});

Deno.test("Ledger: concurrent writes on two ledgers converge and both keep their entries", async () => {
  const { a, b, wire, channelA, channelB, stop } = pair();
  try {
    await a.put("demo", "from-a", "A");
    await b.put("demo", "from-b", "B");
    assert.equal(a.block.Index, 1);
    assert.equal(b.block.Index, 1);
    // One of the two index-1 blocks wins; its loser re-announces at once, on delivery.
    wire.flush();
    const expected = { demo: { "from-a": '"A"', "from-b": '"B"' } };
    assert.deepEqual(a.storage, expected);
    assert.deepEqual(b.storage, expected);
    assert.equal(a.block.Hash, b.block.Hash);
    assert.equal(a.block.Index, 2);
    assert.equal(a.stats.reannounced + b.stats.reannounced, 1);
    assert.equal(channelA.sent.length + channelB.sent.length, 3);

    // Again, with the loser also behind by several blocks.
    await a.put("demo", "a2", 1);
    await a.put("demo", "a3", 1);
    await a.put("demo", "a4", 1);
    await b.put("demo", "b2", 2);
    wire.flush();
    for (const ledger of [a, b]) {
      assert.deepEqual(Object.keys(ledger.storage.demo ?? {}).sort(), [
        "a2",
        "a3",
        "a4",
        "b2",
        "from-a",
        "from-b",
      ]);
    }
    assert.equal(a.block.Hash, b.block.Hash);
    assert.ok(b.stats.reannounced >= 1);
  } finally {
    stop();
  }
});

Deno.test("Ledger: an owned value overwritten by a stale block is written back", async () => {
  const { a, b, wire, channelA, stop } = pair();
  try {
    await a.put("workers", "w1", { lastSeen: 2 });
    wire.flush();
    // A stale snapshot far ahead by index, holding an older value of a's entry.
    const stale = {
      ...nextBlock(a.block, withValue(a.storage, "workers", "w1", '{"lastSeen":1}'), new Date(T0)),
      Index: 9,
    };
    channelA.deliver(stale, "X");
    wire.flush();
    assert.deepEqual(a.get("workers", "w1"), { lastSeen: 2 });
    assert.deepEqual(b.get("workers", "w1"), { lastSeen: 2 });
    assert.equal(a.block.Index, 10);
    assert.equal(b.block.Hash, a.block.Hash);
    assert.equal(a.stats.reannounced, 1);
  } finally {
    stop();
  }
});

Deno.test("Ledger: a deletion is re-asserted when a concurrent block brings the key back", async () => {
  const { a, b, wire, stop } = pair();
  try {
    await a.put("demo", "doomed", "x");
    wire.flush();
    assert.equal(b.get("demo", "doomed"), "x");

    // a deletes while b, not yet aware, writes twice on top of the old block: b wins by index
    // and its block still holds the deleted key.
    await a.delete("demo", "doomed");
    await b.put("demo", "b1", 1);
    await b.put("demo", "b2", 2);
    wire.flush();
    for (const ledger of [a, b]) {
      assert.equal(ledger.has("demo", "doomed"), false, "the deleted key stays deleted");
      assert.equal(ledger.get("demo", "b1"), 1);
      assert.equal(ledger.get("demo", "b2"), 2);
    }
    assert.equal(a.block.Hash, b.block.Hash);
    assert.equal(a.stats.reannounced, 1);
  } finally {
    stop();
  }
});

Deno.test("Ledger.put() of a block too large for the channel is refused and changes nothing", async () => {
  const { a, b, wire, channelA, stop } = pair({ maxBlockBytes: 2_000 });
  try {
    await a.put("demo", "small", "ok");
    wire.flush();
    const before = a.block;
    const events: unknown[] = [];
    a.addEventListener("change", (e) => events.push(e));

    const refused = a.put("demo", "big", "x".repeat(5_000));
    assert.ok(refused instanceof Promise, "put() reports the refusal through its promise");
    await assert.rejects(refused, LedgerWriteError);
    await assert.rejects(a.put("demo", "small", "y".repeat(5_000)), LedgerWriteError);

    assert.equal(a.block, before);
    assert.equal(a.get("demo", "big"), undefined);
    assert.equal(a.get("demo", "small"), "ok");
    assert.equal(events.length, 0);
    assert.equal(channelA.sent.length, 1);
    assert.equal(wire.flush(), 0);
    assert.equal(b.block.Hash, before.Hash);

    // The refused value is not announced later either: a concurrent block triggers no write-back
    // of it, while the accepted value of "small" still is.
    const other = { ...nextBlock(before, {}, new Date(T0)), Index: 5 };
    channelA.deliver(other, "X");
    assert.deepEqual(a.storage, { demo: { small: '"ok"' } });
    // The ledger still accepts writes that fit.
    await a.put("demo", "after", 1);
    wire.flush();
    assert.equal(b.get("demo", "after"), 1);
    assert.equal(b.get("demo", "small"), "ok");
  } finally {
    stop();
  }
});

Deno.test("Ledger: puts made in one tick share one block; one that does not fit is refused alone", async () => {
  const { a, b, wire, channelA, stop } = pair({ maxBlockBytes: 2_000 });
  try {
    await a.put("demo", "first", 0);
    wire.flush();
    const sentBefore = channelA.sent.length;
    const indexBefore = a.block.Index;
    const events: unknown[] = [];
    a.addEventListener("change", (e) => events.push(e));

    const writes = [a.put("demo", "x", 1), a.put("demo", "y", 2), a.put("other", "z", 3)];
    // Visible to reads at once, before the tick ends.
    assert.equal(a.get("demo", "y"), 2);
    await Promise.all(writes);
    assert.equal(a.block.Index, indexBefore + 1, "one block for the three writes");
    assert.equal(channelA.sent.length, sentBefore + 1, "one gossip message");
    assert.equal(events.length, 1);
    wire.flush();
    assert.deepEqual([b.get("demo", "x"), b.get("demo", "y"), b.get("other", "z")], [1, 2, 3]);

    // Together they would not fit: the ones that fit alone are written, the other refused.
    const ok1 = a.put("demo", "ok1", "a");
    const huge = a.put("demo", "huge", "h".repeat(5_000));
    await ok1;
    await assert.rejects(huge, LedgerWriteError);
    assert.equal(a.get("demo", "ok1"), "a");
    assert.equal(a.get("demo", "huge"), undefined);
    wire.flush();
    assert.equal(b.get("demo", "ok1"), "a");
  } finally {
    stop();
  }
});

Deno.test("Ledger: two owners of one key do not re-announce it in an endless storm", async () => {
  const { a, b, wire, stop } = pair({ reannounceIntervalMs: 60_000 });
  try {
    await a.put("demo", "contested", "from-a");
    await b.put("demo", "contested", "from-b");
    // Without a bound each adoption would trigger a write-back on the other side, forever.
    const deliveries = wire.flush(20);
    assert.ok(deliveries <= 6, `${deliveries} deliveries`);
    assert.equal(a.block.Hash, b.block.Hash, "both hold the same block meanwhile");
    assert.ok(a.stats.reannounced <= 1 && b.stats.reannounced <= 1);
  } finally {
    stop();
  }
});

Deno.test("Ledger: a deletion contested by the key's owner does not storm either", async () => {
  const { a, b, wire, stop } = pair({ reannounceIntervalMs: 60_000 });
  try {
    await a.put("demo", "k", "a's");
    wire.flush();
    // b deletes a key a owns: a writes it back, b deletes it again once, then waits.
    await b.delete("demo", "k");
    const deliveries = wire.flush(20);
    assert.ok(deliveries <= 6, `${deliveries} deliveries`);
    assert.equal(a.block.Hash, b.block.Hash);
    assert.equal(a.get("demo", "k"), "a's", "the owner's write-back is the last word for now");
  } finally {
    stop();
  }
});

Deno.test({
  name: "Ledger: a write-back held back by the bound still happens after it",
  async fn() {
    const { a, b, wire, channelA, stop } = pair({ reannounceIntervalMs: 50 });
    try {
      await a.put("demo", "mine", "a");
      wire.flush();
      // Another writer sets a's key: a writes its value back at once, the first time only.
      const overwritten = (index: number): Block => ({
        ...nextBlock(a.block, { demo: { mine: '"other"' } }, new Date(T0)),
        Index: index,
      });
      channelA.deliver(overwritten(10), "X");
      assert.equal(a.get("demo", "mine"), "a", "the first write-back is immediate");
      channelA.deliver(overwritten(20), "X");
      assert.equal(a.get("demo", "mine"), "other", "a second one within the bound waits");
      // A block that merely lacks the key is still answered at once.
      await a.put("demo", "also-mine", 1);
      channelA.deliver({ ...overwritten(30), Storage: { demo: { mine: '"other"' } } }, "X");
      assert.equal(a.get("demo", "also-mine"), 1);
      assert.equal(a.get("demo", "mine"), "other");
      await waitFor(() => a.get("demo", "mine") === "a", {
        timeoutMs: 2_000,
        message: "the write-back",
      });
      assert.equal(a.block.Index, 32);
      assert.equal(a.stats.reannounced, 3);
      wire.flush();
      assert.equal(b.get("demo", "mine"), "a");
    } finally {
      stop();
    }
  },
});
