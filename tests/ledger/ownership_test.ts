import assert from "node:assert/strict";
import { type Block, nextBlock, withValue } from "../../src/ledger/block.ts";
import { LedgerWriteError } from "../../src/ledger/errors.ts";
import { waitFor } from "../_helpers/wait.ts";
import { pair, T0 } from "./_pair.ts";

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
