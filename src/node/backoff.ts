/**
 * Exponential backoff, the one used everywhere something is retried or a peer is held off:
 * redials, worker failures, misbehaving peers. Pure: time and randomness are parameters.
 *
 * @module
 */

/** Shape of a backoff: the first delay, the ceiling and the jitter source. */
export interface BackoffInit {
  /** Delay after the first failure, in milliseconds. */
  baseMs: number;
  /** Longest delay, in milliseconds. */
  maxMs: number;
  /** Uniform randomness in [0, 1) for the jitter. @default {Math.random} */
  random?: () => number;
}

/**
 * The delay before retry number `attempt` (0 for the first retry): the base doubled per
 * attempt up to the ceiling, with "equal jitter" (between half and all of it) so that many
 * peers failing together do not retry together.
 *
 * @param attempt Retries already made (0, 1, 2…).
 * @param init The shape of the backoff.
 * @returns Milliseconds to wait.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { backoffDelay } from "./backoff.ts";
 *
 * const shape = { baseMs: 1_000, maxMs: 30_000, random: () => 1 };
 * assert.equal(backoffDelay(0, shape), 1_000);
 * assert.equal(backoffDelay(3, shape), 8_000);
 * assert.equal(backoffDelay(20, shape), 30_000);
 * ```
 */
export function backoffDelay(attempt: number, init: BackoffInit): number {
  const random = init.random ?? Math.random;
  const ceiling = Math.min(init.maxMs, init.baseMs * 2 ** Math.max(0, attempt));
  return equalJitter(ceiling, random);
}

/**
 * A delay between half of `ms` and all of it ("equal jitter"): what many peers that would
 * otherwise act at the same moment wait, so that they spread out.
 *
 * @param ms The longest delay, in milliseconds.
 * @param random Uniform randomness in [0, 1).
 * @returns Milliseconds to wait, rounded.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { equalJitter } from "./backoff.ts";
 *
 * assert.equal(equalJitter(30_000, () => 0), 15_000);
 * assert.equal(equalJitter(30_000, () => 0.5), 22_500);
 * ```
 */
export function equalJitter(ms: number, random: () => number = Math.random): number {
  return Math.round(ms / 2 + random() * (ms / 2));
}

/** Options of a {@linkcode BackoffMap}: the shape, and how many keys it may hold. */
export interface BackoffMapInit extends BackoffInit {
  /** Keys kept at most; the one whose hold ends first is forgotten first. @default {4096} */
  maxKeys?: number;
}

interface Hold {
  failures: number;
  until: number;
}

/**
 * Per-key backoff: each failure of a key holds it off for a growing delay; a success
 * forgets it. Bounded: a flood of distinct keys cannot grow it past `maxKeys`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { BackoffMap } from "./backoff.ts";
 *
 * const holds = new BackoffMap<string>({ baseMs: 1_000, maxMs: 8_000, random: () => 1 });
 * assert.equal(holds.fail("peer", 0), 1_000);
 * assert.equal(holds.fail("peer", 1_000), 3_000); // held 2 s from t = 1 s
 * assert.equal(holds.isHeld("peer", 2_999), true);
 * assert.equal(holds.isHeld("peer", 3_000), false);
 * holds.succeed("peer");
 * assert.equal(holds.isHeld("peer", 0), false);
 * ```
 */
export class BackoffMap<K> {
  #init: BackoffMapInit;
  #holds = new Map<K, Hold>();

  /** @param init The backoff shape and the key bound. */
  constructor(init: BackoffMapInit) {
    this.#init = init;
  }

  /**
   * Records a failure of `key` at `now`.
   *
   * @returns Until when (ms) the key is held off.
   */
  fail(key: K, now: number): number {
    const failures = this.#holds.get(key)?.failures ?? 0;
    const until = now + backoffDelay(failures, this.#init);
    this.#holds.delete(key); // re-insert: insertion order tracks the latest failures
    this.#holds.set(key, { failures: failures + 1, until });
    this.#bound(now);
    return until;
  }

  /** Forgets `key`'s failures. */
  succeed(key: K): void {
    this.#holds.delete(key);
  }

  /** Whether `key` is held off at `now`. */
  isHeld(key: K, now: number): boolean {
    return (this.#holds.get(key)?.until ?? 0) > now;
  }

  /** Failures of `key` since its last success. */
  failures(key: K): number {
    return this.#holds.get(key)?.failures ?? 0;
  }

  /** How many keys are remembered. */
  get size(): number {
    return this.#holds.size;
  }

  #bound(now: number): void {
    const maxKeys = this.#init.maxKeys ?? 4096;
    if (this.#holds.size <= maxKeys) return;
    // Forget long-expired holds first, then the oldest failures.
    for (const [key, hold] of this.#holds) {
      if (this.#holds.size <= maxKeys) return;
      if (hold.until + this.#init.maxMs < now) this.#holds.delete(key);
    }
    for (const key of this.#holds.keys()) {
      if (this.#holds.size <= maxKeys) return;
      this.#holds.delete(key);
    }
  }
}
