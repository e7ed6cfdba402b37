// The pure balancer: strategies, failure backoff and counters, with a fake clock and scripted
// randomness (no sockets, no timers).
import assert from "node:assert/strict";
import { Balancer, type BalancerInit } from "../../src/federated/balancer.ts";

/** A clock the test moves by hand. */
function fakeClock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

/** Randomness that returns `values` in order (and fails loudly when it runs out). */
function scripted(values: number[]): () => number {
  let i = 0;
  return () => {
    if (i >= values.length) throw new Error(`scripted randomness exhausted after ${i} calls`);
    return values[i++]!;
  };
}

/** A seeded PRNG in [0, 1) (mulberry32). */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Runs `fn` with Math.random replaced by a function that throws. */
function withoutMathRandom<T>(fn: () => T): T {
  const original = Math.random;
  Math.random = () => {
    throw new Error("Math.random used instead of the injected randomness");
  };
  try {
    return fn();
  } finally {
    Math.random = original;
  }
}

function balancer(init: BalancerInit): Balancer {
  return new Balancer({ random: () => 0, now: () => 0, ...init });
}

const ONLINE = ["a", "b", "c"];

// ---------------------------------------------------------------------------------------
// round-robin

Deno.test("round-robin rotates exactly through the online workers, the rest as failover order", () => {
  const b = balancer({ strategy: "round-robin" });
  const orders = Array.from({ length: 6 }, () => b.candidates(["c", "a", "b"]));
  assert.deepEqual(orders, [
    ["a", "b", "c"],
    ["b", "c", "a"],
    ["c", "a", "b"],
    ["a", "b", "c"],
    ["b", "c", "a"],
    ["c", "a", "b"],
  ]);
});

Deno.test("round-robin gives every worker exactly its share over many picks", () => {
  const b = balancer({ strategy: "round-robin" });
  const counts: Record<string, number> = {};
  for (let i = 0; i < 600; i++) {
    const id = b.candidates(ONLINE)[0]!;
    counts[id] = (counts[id] ?? 0) + 1;
  }
  assert.deepEqual(counts, { a: 200, b: 200, c: 200 });
});

Deno.test("round-robin ignores duplicate IDs and returns [] with nobody online", () => {
  const b = balancer({ strategy: "round-robin" });
  assert.deepEqual(b.candidates(["a", "a", "b"]), ["a", "b"]);
  assert.deepEqual(b.candidates([]), []);
});

// ---------------------------------------------------------------------------------------
// least-connections

Deno.test("least-connections picks the worker with the fewest live connections (not LocalAI's {A:0,B:5} → B)", () => {
  const b = balancer({ strategy: "least-connections" });
  for (let i = 0; i < 5; i++) b.open("b");
  // LocalAI's loop (`if min == 0 || v < min`) replaces a zero minimum: {A:0, B:5} can pick B.
  for (let i = 0; i < 20; i++) assert.equal(b.candidates(["a", "b"])[0], "a");
  assert.deepEqual(b.candidates(["a", "b"]), ["a", "b"]);
  // The idle worker wins wherever it sorts: {a:3, b:5, c:0} → c.
  for (let i = 0; i < 3; i++) b.open("a");
  assert.deepEqual(b.candidates(ONLINE), ["c", "a", "b"]);
});

Deno.test("least-connections counts live connections, not finished ones", () => {
  const b = balancer({ strategy: "least-connections" });
  // a served 5 connections that are all finished; b has 1 open right now.
  for (let i = 0; i < 5; i++) b.open("a");
  for (let i = 0; i < 5; i++) b.close("a");
  b.open("b");
  assert.deepEqual(b.candidates(["a", "b"]), ["a", "b"]);
  b.close("b");
  // Now both are idle: the tie goes to the one with fewer connections in total (b: 1 < a: 5).
  assert.deepEqual(b.candidates(["a", "b"]), ["b", "a"]);
});

Deno.test("least-connections spreads a sequence of held connections evenly (within 1)", () => {
  const b = new Balancer({ strategy: "least-connections", random: seeded(7), now: () => 0 });
  for (let i = 0; i < 31; i++) {
    b.open(b.candidates(ONLINE)[0]!);
    const active = b.stats().map((s) => s.active);
    assert.ok(Math.max(...active) - Math.min(...active) <= 1, `uneven: ${active}`);
  }
  assert.deepEqual(b.stats().map((s) => s.active).sort(), [10, 10, 11]);
});

Deno.test("least-connections counts tunnels being opened: a burst accepted together is spread", () => {
  const b = new Balancer({ strategy: "least-connections", random: seeded(3), now: () => 0 });
  // Nine connections accepted at once: each is attempted before any tunnel is confirmed.
  const picks = Array.from({ length: 9 }, () => {
    const id = b.candidates(ONLINE)[0]!;
    b.attempt(id);
    return id;
  });
  assert.deepEqual(picks.filter((id) => id === "a").length, 3);
  assert.deepEqual(picks.filter((id) => id === "b").length, 3);
  assert.deepEqual(b.stats().map((s) => [s.id, s.opening, s.active]), [
    ["a", 3, 0],
    ["b", 3, 0],
    ["c", 3, 0],
  ]);
  // Attempts end in open() (live) or fail() (gone): the sum never counts one twice.
  for (const id of picks.slice(0, 6)) b.open(id);
  for (const id of picks.slice(6)) b.fail(id);
  const live = b.stats().map((s) => s.active + s.opening);
  assert.equal(live.reduce((x, y) => x + y, 0), 6);
  assert.ok(b.stats().every((s) => s.opening === 0));
});

Deno.test("least-connections breaks ties by fewest total, then by the injected randomness", () => {
  // Same live count (1 each); totals a: 3, b: 1, c: 2.
  const b = balancer({ strategy: "least-connections" });
  for (const [id, total] of [["a", 3], ["b", 1], ["c", 2]] as const) {
    for (let i = 0; i < total - 1; i++) {
      b.open(id);
      b.close(id);
    }
    b.open(id);
  }
  assert.deepEqual(b.candidates(ONLINE), ["b", "c", "a"]);

  // Full ties: one draw per worker (in ID order), lowest draw first.
  const tied = (draws: number[]): string[] =>
    new Balancer({ strategy: "least-connections", random: scripted(draws), now: () => 0 })
      .candidates(ONLINE);
  assert.deepEqual(tied([0.9, 0.1, 0.5]), ["b", "c", "a"]);
  assert.deepEqual(tied([0.2, 0.7, 0.1]), ["c", "a", "b"]);
  assert.deepEqual(tied([0.3, 0.2, 0.1]), ["c", "b", "a"]);
});

// ---------------------------------------------------------------------------------------
// random

Deno.test("random draws only from the injected randomness, reproducibly", () => {
  const picks = (seed: number): string[][] =>
    withoutMathRandom(() => {
      const b = new Balancer({ strategy: "random", random: seeded(seed), now: () => 0 });
      return Array.from({ length: 50 }, () => b.candidates(ONLINE));
    });
  const first = picks(42);
  assert.deepEqual(picks(42), first, "same randomness, same picks");
  assert.notDeepEqual(picks(43), first, "other randomness, other picks");
  for (const order of first) assert.deepEqual([...order].sort(), ONLINE, "a permutation");
});

Deno.test("random follows the scripted draws: a different first pick per draw", () => {
  const firstPick = (draws: number[]): string =>
    new Balancer({ strategy: "random", random: scripted(draws), now: () => 0 })
      .candidates(ONLINE)[0]!;
  // Three workers need two draws per shuffle; draws near 0 and near 1 lead to different picks.
  const picks = new Set([
    firstPick([0, 0]),
    firstPick([0.99, 0.99]),
    firstPick([0.5, 0.99]),
    firstPick([0.5, 0]),
  ]);
  assert.ok(picks.size >= 2, `the draws did not change the pick: ${[...picks]}`);
});

Deno.test("random is uniform over the online workers (seeded, 3000 picks)", () => {
  const b = new Balancer({ strategy: "random", random: seeded(1), now: () => 0 });
  const counts: Record<string, number> = { a: 0, b: 0, c: 0 };
  for (let i = 0; i < 3000; i++) counts[b.candidates(ONLINE)[0]!]!++;
  for (const [id, count] of Object.entries(counts)) {
    assert.ok(count > 850 && count < 1150, `${id} picked ${count} times of 3000`);
  }
});

// ---------------------------------------------------------------------------------------
// target worker

Deno.test("a target worker pins every pick, and [] when it is not online", () => {
  for (const strategy of ["least-connections", "round-robin", "random"] as const) {
    const b = balancer({ strategy, targetWorker: "b" });
    for (let i = 0; i < 10; i++) {
      assert.deepEqual(b.candidates(ONLINE), ["b"]);
      b.open("b");
    }
    assert.deepEqual(b.candidates(["a", "c"]), [], strategy);
    assert.deepEqual(b.candidates([]), [], strategy);
    // Even after failures, the pinned worker stays the only candidate.
    b.fail("b");
    assert.deepEqual(b.candidates(ONLINE), ["b"], strategy);
  }
});

// ---------------------------------------------------------------------------------------
// failure backoff

Deno.test("fail() backs off exponentially: skipped and last while in backoff, back after it", () => {
  const clock = fakeClock();
  const b = new Balancer({
    strategy: "round-robin",
    now: clock.now,
    backoffBaseMs: 1_000,
    backoffMaxMs: 8_000,
  });
  const delays: number[] = [];
  for (let failures = 1; failures <= 5; failures++) {
    b.fail("a");
    const stat = b.stats().find((s) => s.id === "a")!;
    assert.equal(stat.consecutiveFailures, failures);
    const delay = stat.backoffUntil - clock.now();
    delays.push(delay);
    // While in backoff: never the first pick, always last in the failover order.
    for (let i = 0; i < 6; i++) {
      const order = b.candidates(ONLINE);
      assert.notEqual(order[0], "a");
      assert.equal(order.at(-1), "a");
      assert.equal(order.length, 3, "still tried when nothing else works");
    }
    clock.advance(delay - 1);
    assert.equal(b.candidates(ONLINE).at(-1), "a", "1 ms before the end of the backoff");
    clock.advance(1);
    // Back in the rotation: it is first again within one round.
    const firsts = Array.from({ length: 3 }, () => b.candidates(ONLINE)[0]);
    assert.ok(firsts.includes("a"), `not back after its backoff: ${firsts}`);
  }
  assert.deepEqual(delays, [1_000, 2_000, 4_000, 8_000, 8_000]);
});

Deno.test("workers in backoff come last, the one whose backoff ends first before the others", () => {
  const clock = fakeClock();
  const b = new Balancer({ strategy: "least-connections", now: clock.now, random: () => 0 });
  b.fail("a");
  b.fail("a"); // a: until now + 2000
  b.fail("b"); // b: until now + 1000
  assert.deepEqual(b.candidates(ONLINE), ["c", "b", "a"]);
  clock.advance(1_000);
  // b is back (ties with c: stable ID order under a constant draw); a still waits.
  assert.deepEqual(b.candidates(ONLINE), ["b", "c", "a"]);
});

Deno.test("open() and reset() clear the failure state", () => {
  const clock = fakeClock();
  const b = new Balancer({ strategy: "round-robin", now: clock.now });
  b.fail("a");
  b.fail("a");
  b.open("a");
  let a = b.stats().find((s) => s.id === "a")!;
  assert.equal(a.consecutiveFailures, 0);
  assert.equal(a.backoffUntil, 0);
  assert.equal(a.failed, 2, "failures stay counted");
  const firsts = Array.from({ length: 3 }, () => b.candidates(ONLINE)[0]);
  assert.deepEqual(firsts.sort(), ["a", "b", "c"]);
  // The next failure starts again at the base backoff.
  b.fail("a");
  a = b.stats().find((s) => s.id === "a")!;
  assert.equal(a.backoffUntil - clock.now(), 1_000);

  b.reset("a");
  a = b.stats().find((s) => s.id === "a")!;
  assert.equal(a.consecutiveFailures, 0);
  assert.equal(a.backoffUntil, 0);
});

// ---------------------------------------------------------------------------------------
// counters

Deno.test("stats() counts active, total, failed and bytes per worker, sorted by ID", () => {
  const b = balancer({ strategy: "least-connections" });
  b.open("b");
  b.open("b");
  b.open("a");
  b.close("b", { bytesSent: 100, bytesReceived: 2_000 });
  b.close("a", { bytesSent: 7, bytesReceived: 9 });
  b.close("a"); // one close too many never goes below zero
  b.fail("c");
  assert.deepEqual(
    b.stats().map(({ id, active, total, failed, bytesSent, bytesReceived }) => ({
      id,
      active,
      total,
      failed,
      bytesSent,
      bytesReceived,
    })),
    [
      { id: "a", active: 0, total: 1, failed: 0, bytesSent: 7, bytesReceived: 9 },
      { id: "b", active: 1, total: 2, failed: 0, bytesSent: 100, bytesReceived: 2_000 },
      { id: "c", active: 0, total: 0, failed: 1, bytesSent: 0, bytesReceived: 0 },
    ],
  );
  // A snapshot: changing it does not change the balancer.
  b.stats()[0]!.active = 99;
  assert.equal(b.stats()[0]!.active, 0);
});
