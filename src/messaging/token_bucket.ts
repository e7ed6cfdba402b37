/**
 * A token bucket. Pure: the clock is injected.
 *
 * @module
 */

/** A rate: bursts of `burst`, `perSecond` sustained. */
export interface RateLimit {
  /** Tokens the bucket holds when full: the largest burst. */
  burst: number;
  /** Tokens added per second. */
  perSecond: number;
}

/** Options of a {@linkcode TokenBucket}. */
export interface TokenBucketInit extends RateLimit {
  /** The clock, in milliseconds since the epoch. @default {Date.now} */
  now?: () => number;
}

/**
 * A token bucket: it starts full with `burst` tokens, gains `perSecond` tokens per second up
 * to `burst`, and each admitted event takes one.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { TokenBucket } from "./token_bucket.ts";
 *
 * let now = 0;
 * const bucket = new TokenBucket({ burst: 2, perSecond: 1, now: () => now });
 * assert.equal(bucket.take(), true);
 * assert.equal(bucket.take(), true);
 * assert.equal(bucket.take(), false);
 * assert.equal(bucket.retryAfterMs(), 1000);
 * now += 1000;
 * assert.equal(bucket.take(), true);
 * ```
 */
export class TokenBucket {
  #burst: number;
  #perMs: number;
  #now: () => number;
  #tokens: number;
  #at: number;

  /**
   * Constructs a new, full bucket.
   *
   * @param init The rate and the clock.
   * @throws {RangeError} If `burst` is below 1 or `perSecond` is negative.
   */
  constructor(init: TokenBucketInit) {
    if (!(init.burst >= 1) || !(init.perSecond >= 0)) {
      throw new RangeError(
        "Cannot create token bucket: burst must be at least 1 and perSecond not negative",
      );
    }
    this.#burst = init.burst;
    this.#perMs = init.perSecond / 1000;
    this.#now = init.now ?? Date.now;
    this.#tokens = init.burst;
    this.#at = this.#now();
  }

  /** Tokens available now (fractional). */
  get tokens(): number {
    this.#refill();
    return this.#tokens;
  }

  /**
   * Whether `cost` tokens are available now, without taking them.
   *
   * @param cost Tokens needed. @default {1}
   * @returns `true` if {@linkcode TokenBucket.take} would succeed.
   */
  has(cost = 1): boolean {
    return this.tokens >= cost;
  }

  /**
   * Takes `cost` tokens if available.
   *
   * @param cost Tokens needed. @default {1}
   * @returns `true` if taken, `false` (nothing taken) otherwise.
   */
  take(cost = 1): boolean {
    if (!this.has(cost)) return false;
    this.#tokens -= cost;
    return true;
  }

  /**
   * How long until `cost` tokens are available, in whole milliseconds (`0` if they are now).
   *
   * @param cost Tokens needed. @default {1}
   * @returns The wait, `Infinity` if the bucket never refills or `cost` exceeds `burst`.
   */
  retryAfterMs(cost = 1): number {
    const missing = cost - this.tokens;
    if (missing <= 0) return 0;
    if (this.#perMs === 0 || cost > this.#burst) return Infinity;
    return Math.ceil(missing / this.#perMs);
  }

  #refill(): void {
    const now = this.#now();
    const elapsed = Math.max(0, now - this.#at);
    this.#at = Math.max(this.#at, now);
    this.#tokens = Math.min(this.#burst, this.#tokens + elapsed * this.#perMs);
  }
}
