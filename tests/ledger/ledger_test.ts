import assert from "node:assert/strict";
import { type Block, nextBlock, withValue } from "../../src/ledger/block.ts";
import { waitFor } from "../_helpers/wait.ts";
import { Ledger } from "../../src/ledger/ledger.ts";
import { FakeChannel, fixedClock, pair, T0 } from "./_pair.ts";

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

Deno.test("Ledger.put() refuses bucket and key names JSON must escape; nothing changes", async () => {
  const { a, stop } = pair();
  try {
    await a.put("demo", "ok", 1);
    const before = a.block;
    for (const [bucket, key] of [["demo", "a\nb"], ['de"mo', "k"], ["demo", "\ud9e0"]]) {
      await assert.rejects(
        a.put(bucket!, key!, 2),
        (err: Error) => err.name === "LedgerWriteError" && err.message.includes("JSON must escape"),
      );
    }
    assert.equal(a.block, before);
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
      sentDirect: 0,
      reannounced: 0,
      quiet: 0,
      joinQuiet: 0,
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
      sentDirect: 0,
      reannounced: 0,
      quiet: 0,
      joinQuiet: 0,
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
    channelA.peerJoined("B");
    channelA.peerJoined("B"); // join events close together: one rebroadcast
    await waitFor(() => wire.pending.length > 0, { message: "the rebroadcast for b" });
    wire.flush();
    assert.equal(b.get("demo", "k"), "v");
    assert.equal(b.block.Hash, a.block.Hash);
    assert.equal(channelA.sent.length, 2, "the write, then one rebroadcast");
  } finally {
    stop();
  }
});

Deno.test("Ledger sends its block to a joining peer alone where it can, and publishes for the others", async () => {
  const { a, b, wire, channelA, channelB, stop } = pair();
  const c = new FakeChannel("C", wire);
  const ledgerC = new Ledger({ channel: c, now: fixedClock(T0 + 9) });
  try {
    channelA.peers.splice(0, channelA.peers.length, c); // b is not listening yet
    await a.put("demo", "k", "v"); // reaches c: a has gossiped to a peer
    wire.flush();
    channelA.peers.push(channelB);
    channelA.reachable.add("B");
    channelA.peerJoined("B");
    await waitFor(() => a.stats.sentDirect === 1, { message: "the delivery to b" });
    wire.flush();
    assert.equal(b.get("demo", "k"), "v");
    assert.equal(channelA.sent.length, 1, "the write only: nothing published for b");
    assert.deepEqual(channelA.sentTo.map((s) => s.peer), ["B"]);
    // C does not take deliveries (a LocalAI/edgevpn peer): the block is published for it. b
    // took the block, so it holds it: its graft in the same turn needs nothing.
    channelA.peerJoined("B", true);
    channelA.peerJoined("C");
    await waitFor(() => channelA.sent.length === 2, { message: "the rebroadcast for c" });
    wire.flush();
    assert.equal(ledgerC.get("demo", "k"), "v");
    assert.equal(a.stats.sentDirect, 1);
    assert.equal(channelA.sentTo.length, 1, "nothing sent to b again");

    // A graft (b joined a's gossip mesh right after a new block) is sent to b alone too.
    await a.put("demo", "k", "w");
    channelA.peers.splice(channelA.peers.indexOf(channelB), 1); // b missed the write
    wire.flush();
    channelA.peers.push(channelB);
    channelA.peerJoined("B", true);
    await waitFor(() => a.stats.sentDirect === 2, { message: "the delivery for the graft" });
    wire.flush();
    assert.equal(b.get("demo", "k"), "w");
    assert.equal(channelA.sent.length, 3, "the two writes and the rebroadcast for c");
    assert.equal(channelB.sent.length, 0, "b adopted every block without writing");
  } finally {
    stop();
    ledgerC.stop();
  }
});

Deno.test("Ledger gossips for joining peers until one of its publishes reached a peer", async () => {
  const { a, b, wire, channelA, channelB, stop } = pair();
  try {
    channelA.peers.length = 0; // a writes alone: its publish reaches nobody
    await a.put("demo", "k", "v");
    channelA.peers.push(channelB);
    channelA.reachable.add("B");
    channelA.peerJoined("B");
    // Gossiped, so that members a is not connected to hear a block a wrote.
    await waitFor(() => channelA.sent.length === 2, { message: "the rebroadcast for b" });
    assert.equal(a.stats.sentDirect, 0);
    wire.flush();
    assert.equal(b.get("demo", "k"), "v");
    // That publish reached b: the next join is answered by delivery.
    await a.put("demo", "k", "w");
    channelA.peerJoined("B");
    await waitFor(() => a.stats.sentDirect === 1, { message: "the delivery to b" });
  } finally {
    stop();
  }
});

Deno.test("Ledger stays quiet for a joining peer that sent a block as new as its own", async () => {
  const { a, b, wire, channelB, stop } = pair();
  try {
    await a.put("demo", "k", "v");
    wire.flush();
    await b.put("demo", "j", "w"); // b's current block is one a has not sent back yet
    wire.flush();
    const sent = channelB.sent.length;
    // A joins b's topic, and before b's turn sends the block b holds: it needs nothing.
    channelB.peerJoined("A");
    a.sync();
    wire.flush();
    await waitFor(() => b.stats.joinQuiet === 1, { message: "b's turn" });
    assert.equal(channelB.sent.length, sent, "b sent nothing for A");

    // A copy of the block from a third peer is no proof that the newcomer holds it.
    channelB.peerJoined("C");
    channelB.deliver(b.block, "A");
    await waitFor(() => channelB.sent.length === sent + 1, { message: "b's rebroadcast for C" });
    assert.equal(b.stats.joinQuiet, 1);

    // A newcomer that showed it holds the current block before it joined needs nothing.
    channelB.deliver(b.block, "D");
    channelB.peerJoined("D");
    channelB.peerJoined("E");
    channelB.deliver(b.block, "E");
    await waitFor(() => b.stats.joinQuiet === 2, { message: "b's turn for D and E" });
    assert.equal(channelB.sent.length, sent + 1);
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
      sentDirect: 0,
      reannounced: 0,
      quiet: 0,
      joinQuiet: 0,
    });
    assert.equal(channelA.sent.length, 0);
  } finally {
    stop();
  }
});
