/**
 * Staleness and replay detection for signed messages. Pure: the clock is injected.
 *
 * @module
 */

import { DEFAULT_MAX_MESSAGE_AGE_MS, DEFAULT_REPLAY_CACHE_SIZE } from "./constants.ts";

/** The verdict of {@linkcode ReplayCache.check}. */
export type Freshness = "fresh" | "stale" | "replay";

/** Options of a {@linkcode ReplayCache}. */
export interface ReplayCacheInit {
  /** How far a timestamp may be from now, in either direction. @default {30000} */
  maxAgeMs?: number;
  /** Nonces remembered at most. @default {100000} */
  maxEntries?: number;
  /** The clock, in milliseconds since the epoch. @default {Date.now} */
  now?: () => number;
}

/**
 * Remembers the nonces of accepted messages for the age window, so each signed message is
 * accepted once: a timestamp outside `now ± maxAgeMs` is stale, a nonce already seen inside
 * it is a replay.
 *
 * Memory is bounded by `maxEntries`. When the cache is full the oldest entry is dropped and
 * the cache raises a floor to that entry's timestamp: anything not newer than the floor is
 * then refused as stale. A replay can never slip through an eviction; under a flood, only
 * honest messages older than the evicted ones are refused too.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { ReplayCache } from "./replay_cache.ts";
 *
 * let now = 1_000_000;
 * const cache = new ReplayCache({ maxAgeMs: 30_000, now: () => now });
 * assert.equal(cache.check("peerA:n1", now), "fresh");
 * assert.equal(cache.check("peerA:n1", now), "replay");
 * assert.equal(cache.check("peerA:n2", now - 60_000), "stale");
 * now += 31_000;
 * assert.equal(cache.check("peerA:n1", now - 31_000), "stale");
 * ```
 */
export class ReplayCache {
  #maxAgeMs: number;
  #maxEntries: number;
  #now: () => number;
  /** key → timestamp, in insertion order. */
  #seen = new Map<string, number>();
  #floor = -Infinity;

  /**
   * Constructs a new instance.
   *
   * @param init The age window, the bound and the clock.
   */
  constructor(init: ReplayCacheInit = {}) {
    this.#maxAgeMs = init.maxAgeMs ?? DEFAULT_MAX_MESSAGE_AGE_MS;
    this.#maxEntries = Math.max(1, init.maxEntries ?? DEFAULT_REPLAY_CACHE_SIZE);
    this.#now = init.now ?? Date.now;
  }

  /** How many nonces are remembered now. */
  get size(): number {
    return this.#seen.size;
  }

  /**
   * Judges a message and, when it is fresh, remembers its key. Call it only for messages
   * whose signature verified, so forgeries cannot fill the cache.
   *
   * @param key A key unique per message: the signer and the nonce.
   * @param timestamp The message timestamp, in milliseconds since the epoch.
   * @returns `"fresh"` (now remembered), `"stale"` or `"replay"`.
   */
  check(key: string, timestamp: number): Freshness {
    const now = this.#now();
    this.#prune(now);
    if (Math.abs(now - timestamp) > this.#maxAgeMs || timestamp <= this.#floor) return "stale";
    if (this.#seen.has(key)) return "replay";
    this.#seen.set(key, timestamp);
    while (this.#seen.size > this.#maxEntries) {
      const [oldest, at] = this.#seen.entries().next().value as [string, number];
      this.#seen.delete(oldest);
      this.#floor = Math.max(this.#floor, at);
    }
    return "fresh";
  }

  #prune(now: number): void {
    // Entries are in arrival order, which is close to timestamp order: drop expired ones from
    // the front. A late expired entry behind a live one goes on a later call, or by the bound.
    for (const [key, at] of this.#seen) {
      if (now - at <= this.#maxAgeMs) break;
      this.#seen.delete(key);
    }
  }
}
