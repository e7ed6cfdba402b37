/**
 * Per-peer and global rate limits on incoming messages. Pure: the clock is injected.
 *
 * @module
 */

import {
  DEFAULT_GLOBAL_RATE_LIMIT,
  DEFAULT_PEER_RATE_LIMIT,
  MAX_RATE_LIMITED_PEERS,
} from "./constants.ts";
import { type RateLimit, TokenBucket } from "./token_bucket.ts";

/** Options of a {@linkcode RateLimiter}; `false` turns a limit off. */
export interface RateLimiterInit {
  /** Limit per sending peer. @default {{ burst: 100, perSecond: 50 }} */
  perPeer?: RateLimit | false;
  /** Limit on all peers together. @default {{ burst: 1000, perSecond: 500 }} */
  global?: RateLimit | false;
  /** Peers whose buckets are remembered; the least recently seen go first. @default {10000} */
  maxPeers?: number;
  /** The clock, in milliseconds since the epoch. @default {Date.now} */
  now?: () => number;
}

/** The verdict of {@linkcode RateLimiter.admit}. */
export type RateDecision =
  | { allowed: true }
  | { allowed: false; scope: "peer" | "global"; retryAfterMs: number };

/**
 * Admits or refuses incoming messages with two token buckets: one per sending peer and one
 * shared by all. A message takes a token from both or from neither.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { RateLimiter } from "./rate_limiter.ts";
 *
 * let now = 0;
 * const limiter = new RateLimiter({
 *   perPeer: { burst: 1, perSecond: 1 },
 *   global: { burst: 10, perSecond: 10 },
 *   now: () => now,
 * });
 * assert.deepEqual(limiter.admit("peerA"), { allowed: true });
 * assert.deepEqual(limiter.admit("peerA"), { allowed: false, scope: "peer", retryAfterMs: 1000 });
 * assert.deepEqual(limiter.admit("peerB"), { allowed: true });
 * ```
 */
export class RateLimiter {
  #perPeer: RateLimit | false;
  #global: TokenBucket | undefined;
  #maxPeers: number;
  #now: () => number;
  #peers = new Map<string, TokenBucket>();

  /**
   * Constructs a new instance.
   *
   * @param init The limits and the clock.
   */
  constructor(init: RateLimiterInit = {}) {
    this.#now = init.now ?? Date.now;
    this.#perPeer = init.perPeer ?? DEFAULT_PEER_RATE_LIMIT;
    const global = init.global ?? DEFAULT_GLOBAL_RATE_LIMIT;
    this.#global = global === false ? undefined : new TokenBucket({ ...global, now: this.#now });
    this.#maxPeers = Math.max(1, init.maxPeers ?? MAX_RATE_LIMITED_PEERS);
  }

  /**
   * Admits one message from `peer` (taking a token from its bucket and the global one), or
   * says which limit refused it and for how long.
   *
   * @param peer The sending peer.
   * @returns The decision.
   */
  admit(peer: string): RateDecision {
    const bucket = this.#bucketOf(peer);
    if (bucket !== undefined && !bucket.has()) {
      return { allowed: false, scope: "peer", retryAfterMs: bucket.retryAfterMs() };
    }
    if (this.#global !== undefined && !this.#global.has()) {
      return { allowed: false, scope: "global", retryAfterMs: this.#global.retryAfterMs() };
    }
    bucket?.take();
    this.#global?.take();
    return { allowed: true };
  }

  #bucketOf(peer: string): TokenBucket | undefined {
    if (this.#perPeer === false) return undefined;
    let bucket = this.#peers.get(peer);
    if (bucket === undefined) {
      bucket = new TokenBucket({ ...this.#perPeer, now: this.#now });
    } else {
      this.#peers.delete(peer); // re-inserted below: most recently seen last
    }
    this.#peers.set(peer, bucket);
    if (this.#peers.size > this.#maxPeers) {
      this.#peers.delete(this.#peers.keys().next().value as string);
    }
    return bucket;
  }
}
