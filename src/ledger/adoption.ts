import { type Block, shouldAdopt } from "./block.ts";
import { LARGE_INDEX_STEP, LARGE_STEP_INTERVAL_MS, MAX_INDEX_STEP } from "./constants.ts";

/**
 * What {@linkcode AdoptionRule.judge} says of a received block:
 * - `adopt`: it replaces the current block (edgevpn's rule, within the step bounds);
 * - `older`: it loses edgevpn's rule (lower index, or equal index and lower or equal hash);
 * - `too-far`: it would move the index further than any network moves in one step;
 * - `too-soon`: a large step, but another large step was taken less than the interval ago.
 */
export type AdoptionVerdict = "adopt" | "older" | "too-far" | "too-soon";

/** Bounds of an {@linkcode AdoptionRule}. */
export interface AdoptionLimits {
  /** Largest index step one block may take. @default {2 ** 32} */
  maxStep: number;
  /** Steps above this are large: one per `largeStepIntervalMs`. @default {2 ** 16} */
  largeStep: number;
  /** Least time between two large steps, in milliseconds. @default {10000} */
  largeStepIntervalMs: number;
}

/**
 * edgevpn's merge rule (a higher index wins; on equal indices the higher hash) with two
 * bounds that stop one member from freezing the ledger of the whole network.
 *
 * In edgevpn a block whose `Index` is near the top of the integer range wins every merge,
 * and every later write then lands beyond it or overflows: no write leaves its writer
 * again. Here one block may move the index by at most `maxStep` (2³², more writes than
 * any network makes in its life), and steps above `largeStep` happen at most once per
 * `largeStepIntervalMs` whoever sends them, so reaching the top takes 2²¹ large steps
 * (243 days) or 2³⁷ small ones. A node that was away catches up in one large step.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { AdoptionRule, genesisBlock, nextBlock } from "@p2p/p2p/ledger";
 *
 * const rule = new AdoptionRule();
 * const current = genesisBlock(new Date(0));
 * const next = nextBlock(current, {}, new Date(1));
 * assert.equal(rule.judge(current, next, 0), "adopt");
 * assert.equal(rule.judge(next, current, 0), "older");
 * const frozen = { ...next, Index: Number.MAX_SAFE_INTEGER };
 * assert.equal(rule.judge(current, frozen, 0), "too-far");
 * ```
 */
export class AdoptionRule {
  #limits: AdoptionLimits;
  #lastLargeStepAt = -Infinity;

  /** @param limits Step bounds; the defaults suit every network. */
  constructor(limits: Partial<AdoptionLimits> = {}) {
    this.#limits = {
      maxStep: MAX_INDEX_STEP,
      largeStep: LARGE_INDEX_STEP,
      largeStepIntervalMs: LARGE_STEP_INTERVAL_MS,
      ...limits,
    };
  }

  /**
   * Judges a received block against the current one; an `adopt` verdict for a large step
   * starts the interval before the next one.
   *
   * @param current The block the ledger holds.
   * @param incoming The block a peer sent.
   * @param now The time, in milliseconds.
   * @returns The verdict.
   */
  judge(current: Block, incoming: Block, now: number): AdoptionVerdict {
    if (!shouldAdopt(current, incoming)) return "older";
    const step = incoming.Index - current.Index;
    if (step > this.#limits.maxStep) return "too-far";
    if (step > this.#limits.largeStep) {
      if (now - this.#lastLargeStepAt < this.#limits.largeStepIntervalMs) return "too-soon";
      this.#lastLargeStepAt = now;
    }
    return "adopt";
  }
}
