import assert from "node:assert/strict";
import { heapTrimDue, startHeapTrim } from "../../src/cli/heap_trim.ts";
import { waitFor } from "../_helpers/wait.ts";

const policy = { minBytes: 10, growth: 1.3 };

Deno.test("heap trim: collects past the growth bound over the last collection, never below the floor", () => {
  assert.equal(heapTrimDue(129, 100, policy), false);
  assert.equal(heapTrimDue(130, 100, policy), true);
  assert.equal(heapTrimDue(9, 1, policy), false, "below minBytes");
  assert.equal(heapTrimDue(10, 0, policy), true);
});

Deno.test("heap trim: one collection at start, then one each time the heap grew past the bound", async () => {
  let used = 100;
  let collected = 0;
  const trim = startHeapTrim({
    heapUsed: () => used,
    collect: () => {
      collected++;
      used = 100; // what survives
    },
    checkMs: 5,
    policy,
  });
  try {
    assert.equal(collected, 1, "at start");
    used = 120;
    // Several checks pass with the heap below the bound: none collects.
    await new Promise((resolve) => setTimeout(resolve, 40));
    assert.equal(collected, 1);
    used = 140;
    await waitFor(() => collected === 2, { timeoutMs: 2_000, message: "a second collection" });
    assert.equal(trim.collections, 2);
  } finally {
    trim.stop();
  }
});

Deno.test("heap trim: V8's own collector is reached and frees the garbage", () => {
  let garbage: unknown[] | undefined = Array.from(
    { length: 200_000 },
    (_, i) => ({ i, s: `x${i}` }),
  );
  const before = Deno.memoryUsage().heapUsed;
  garbage = undefined;
  const trim = startHeapTrim();
  trim.stop();
  const after = Deno.memoryUsage().heapUsed;
  assert.equal(garbage, undefined);
  assert.ok(before - after > 5_000_000, `${before} → ${after}: at least 5 MB freed`);
});
