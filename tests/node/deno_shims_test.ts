// The Deno shims' AbortSignal.timeout: long timeouts share a timer per deadline step (one per
// inbound stream otherwise), fire as TimeoutError no earlier than asked, and short ones stay
// precise and separate.
import assert from "node:assert/strict";
import { installDenoShims } from "../../src/node/deno_shims.ts";

installDenoShims();

/** Resolves with the signal's reason and how long after `since` it aborted. */
function aborted(
  signal: AbortSignal,
  since: number,
): Promise<{ reason: unknown; afterMs: number }> {
  return new Promise((resolve) => {
    signal.addEventListener(
      "abort",
      () => resolve({ reason: signal.reason, afterMs: performance.now() - since }),
      { once: true },
    );
  });
}

/** `promise`, bounded by a ref'd timer (the shim's timers are unref'd: they hold nothing open). */
async function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`not aborted within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

Deno.test({
  name: "AbortSignal.timeout: calls with deadlines in one step share a signal; it fires on time",
  // Timers of the other shared signals are left to fire (unref'd, as libp2p leaves them).
  sanitizeOps: false,
  fn: async () => {
    const since = performance.now();
    const signals = Array.from({ length: 100 }, () => AbortSignal.timeout(1_000));
    // 100 calls within a millisecond or two: at most two steps (a step boundary in between).
    const distinct = new Set(signals);
    assert.ok(distinct.size <= 2, `${distinct.size} signals for 100 calls`);
    assert.ok(signals.every((s) => !s.aborted));
    const fired = await within(Promise.all([...distinct].map((s) => aborted(s, since))), 5_000);
    for (const { reason, afterMs } of fired) {
      assert.ok(reason instanceof DOMException && reason.name === "TimeoutError");
      assert.ok(afterMs >= 1_000, `aborted after ${afterMs} ms, asked for 1,000`);
    }
    assert.ok(signals.every((s) => s.aborted));
  },
});

Deno.test({
  name: "AbortSignal.timeout: short timeouts keep their own timers",
  sanitizeOps: false,
  fn: async () => {
    const since = performance.now();
    const a = AbortSignal.timeout(20);
    const b = AbortSignal.timeout(20);
    assert.notEqual(a, b);
    const { reason, afterMs } = await within(aborted(a, since), 5_000);
    assert.ok(reason instanceof DOMException && reason.name === "TimeoutError");
    assert.ok(afterMs >= 19, `aborted after ${afterMs} ms, asked for 20`);
  },
});

Deno.test("installDenoShims: a second install keeps the first AbortSignal.timeout", () => {
  const installed = AbortSignal.timeout;
  installDenoShims();
  assert.equal(AbortSignal.timeout, installed);
});
