import type { Block } from "../ledger/block.ts";
import { HEALTHCHECK_BUCKET, USERS_BUCKET } from "../ledger/constants.ts";

/**
 * Whether a block its sender signed names the sender as a node names itself: LocalAI and
 * edgevpn nodes cannot answer the membership challenge, but each writes `healthcheck/<its
 * ID>` every 30 s and a consumer `users/<its ID>`, sealed with the token. An outsider can
 * copy a member's sealed block and publish it under its own signature, but that block names
 * the member, not the outsider (and outsiders get no gossip to copy: see `gossipScoring`).
 *
 * @param block A block that unsealed correctly.
 * @param from The peer that signed the gossip message.
 * @returns Whether the block proves `from` holds the token.
 */
export function namesItsSender(block: Block, from: string): boolean {
  return [HEALTHCHECK_BUCKET, USERS_BUCKET].some((bucket) => {
    const entries = block.Storage[bucket];
    return entries !== undefined && Object.hasOwn(entries, from);
  });
}

/** A set that forgets its oldest members past `max`. */
export class BoundedSet<T> {
  #items = new Set<T>();
  #max: number;

  /** @param max How many members it keeps. */
  constructor(max: number) {
    this.#max = max;
  }

  /** Adds (or refreshes) `item`. */
  add(item: T): void {
    this.#items.delete(item);
    this.#items.add(item);
    if (this.#items.size > this.#max) this.#items.delete(this.#items.values().next().value!);
  }

  /** Removes `item`. */
  delete(item: T): void {
    this.#items.delete(item);
  }

  /** Whether `item` is in the set. */
  has(item: T): boolean {
    return this.#items.has(item);
  }
}
