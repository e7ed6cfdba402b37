/**
 * Exponential backoff with jitter. Pure: randomness is injected.
 *
 * @module
 */

/** Options of {@linkcode backoffDelay}. */
export interface BackoffInit {
  /** Delay before the first retry (attempt 0), before jitter, in milliseconds. */
  baseMs: number;
  /** Largest delay, in milliseconds. */
  maxMs: number;
  /** A source of numbers in `[0, 1)`. @default {Math.random} */
  random?: () => number;
}

/**
 * The delay before retry number `attempt` (from 0): `min(maxMs, baseMs × 2^attempt)`, of
 * which the upper half is random ("equal jitter"), so retrying peers do not move in step.
 *
 * @param attempt How many retries came before (0 for the first).
 * @param init The base, the cap and the randomness.
 * @returns The delay, in whole milliseconds.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { backoffDelay } from "@p2p/p2p/messaging";
 *
 * const init = { baseMs: 100, maxMs: 1000, random: () => 0 };
 * assert.equal(backoffDelay(0, init), 50);
 * assert.equal(backoffDelay(2, init), 200);
 * assert.equal(backoffDelay(10, { ...init, random: () => 0.999 }), 1000);
 * ```
 */
export function backoffDelay(attempt: number, init: BackoffInit): number {
  const random = init.random ?? Math.random;
  const ceiling = Math.min(init.maxMs, init.baseMs * 2 ** Math.max(0, attempt));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}
