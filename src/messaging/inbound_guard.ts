/**
 * The checks every incoming message passes, direct or topic: deny list, rate limits,
 * signature, sender and recipient binding, age and replay.
 *
 * @module
 */

import type { RejectionReason } from "./errors.ts";
import type { Frame, FrameKind } from "./frame.ts";
import type { RateDecision, RateLimiter } from "./rate_limiter.ts";
import type { ReplayCache } from "./replay_cache.ts";
import { verifyFrame } from "./signature.ts";
import type { StatsRecorder } from "./stats.ts";
import type { TrustPolicy } from "./trust.ts";

/** What an {@linkcode InboundGuard} is made of. */
export interface InboundGuardInit {
  /** The deny list and gate. */
  trust: TrustPolicy;
  /** Whether a peer proved it holds the token (others are refused: `not-member`). */
  isMember?: (peer: string) => boolean;
  /** Per-peer and global rate limits. */
  limiter: RateLimiter;
  /** Age window and nonces seen. */
  replay: ReplayCache;
  /** Where rejections are counted. */
  stats: StatsRecorder;
}

/** What a frame must be to pass {@linkcode InboundGuard.verify}. */
export interface FrameExpectation {
  /** The peer the frame came from (the connection's, or gossipsub's verified author). */
  from: string;
  /** This node's peer ID, or the topic's gossip name. */
  recipient: string;
  /** The kinds accepted here. */
  kinds: readonly FrameKind[];
}

/**
 * Runs the checks of incoming messages in cost order: the cheap ones (deny list, rate
 * limits) before reading, then the frame's binding to its sender and recipient, its
 * signature, and last its age and nonce, so only authentic frames enter the replay cache.
 * Every refusal is counted.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { InboundGuard } from "./inbound_guard.ts";
 * import { RateLimiter } from "./rate_limiter.ts";
 * import { ReplayCache } from "./replay_cache.ts";
 * import { StatsRecorder } from "./stats.ts";
 * import { TrustPolicy } from "./trust.ts";
 *
 * const stats = new StatsRecorder();
 * const guard = new InboundGuard({
 *   trust: new TrustPolicy({ deny: ["12D3KooWEvil"] }),
 *   limiter: new RateLimiter(),
 *   replay: new ReplayCache(),
 *   stats,
 * });
 * assert.deepEqual(guard.admit("12D3KooWEvil"), { reason: "denied" });
 * assert.equal(guard.admit("12D3KooWGood"), undefined);
 * assert.equal(stats.snapshot().rejected.denied, 1);
 * ```
 */
export class InboundGuard {
  #init: InboundGuardInit;

  /**
   * Constructs a new instance.
   *
   * @param init The policy, limiter, replay cache and counters.
   */
  constructor(init: InboundGuardInit) {
    this.#init = init;
  }

  /**
   * The checks made before reading a message: deny list, then rate limits (taking a token).
   *
   * @param from The sending peer.
   * @returns `undefined` to go on, or why not (with the advised wait when rate limited).
   */
  admit(
    from: string,
  ):
    | { reason: "denied" | "not-member" }
    | { reason: "rate-limited"; retryAfterMs: number }
    | undefined {
    if (this.#init.trust.isDenied(from)) return this.#refuse("denied");
    if (this.#init.isMember?.(from) === false) return this.#refuse("not-member");
    if (this.#init.isMember?.(from) === false) return this.#refuse("not-member");
    const decision: RateDecision = this.#init.limiter.admit(from);
    if (!decision.allowed) {
      this.#init.stats.rejected("rate-limited");
      return { reason: "rate-limited", retryAfterMs: decision.retryAfterMs };
    }
    return undefined;
  }

  /**
   * The checks of a decoded frame: kind, signer = sender, recipient, signature, age, nonce.
   *
   * @param frame The frame.
   * @param expected Who sent it, who it must be for, and which kinds are accepted.
   * @returns `undefined` if it passes, or why not.
   */
  async verify(frame: Frame, expected: FrameExpectation): Promise<RejectionReason | undefined> {
    if (!expected.kinds.includes(frame.kind)) return this.reject("malformed");
    const { valid, signer } = await verifyFrame(frame);
    if (signer !== expected.from) return this.reject(signer === "" ? "malformed" : "wrong-sender");
    if (frame.recipient !== expected.recipient) return this.reject("wrong-recipient");
    if (!valid) return this.reject("bad-signature");
    const freshness = this.#init.replay.check(`${signer}\u0000${frame.nonce}`, frame.timestamp);
    if (freshness !== "fresh") return this.reject(freshness);
    return undefined;
  }

  /**
   * Counts a refusal decided elsewhere (too large, malformed, unknown type, bad seal).
   *
   * @param reason Why.
   * @returns `reason`.
   */
  reject<R extends RejectionReason>(reason: R): R {
    this.#init.stats.rejected(reason);
    return reason;
  }

  #refuse<R extends "denied" | "not-member">(reason: R): { reason: R } {
    this.#init.stats.rejected(reason);
    return { reason };
  }
}
