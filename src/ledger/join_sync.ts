/**
 * When a node sends its block to peers that joined. A newcomer must get the current block,
 * which may be hours old, but one copy will do, not one from every node that saw it arrive:
 * in a forming network of 20 nodes, all connected, each node rebroadcast for each of its 19
 * joins, and each copy reached all 20. The ledger now sends it to the newcomer alone where it
 * can (`block_delivery.ts`), and the wait below still spares most of those sends.
 *
 * Every node that saw a peer join waits a random delay, and sends its block then unless the peer
 * showed meanwhile that it holds the current block: it sent one at least as new (a newcomer
 * that adopts a block lacking its own entries writes them back at once, and its block then
 * reaches everyone). A copy sent by a third node is no such proof: that node may not know the
 * newcomer yet, and gossipsub sends nothing to a peer before it proved membership.
 *
 * @module
 */
import {
  JOIN_SYNC_MAX_SPREAD_MS,
  JOIN_SYNC_SPREAD_PER_PEER_MS,
  NEW_PEER_SYNC_DELAY_MS,
} from "./constants.ts";

/**
 * How long a node waits before sending its block to a peer that joined.
 *
 * The spread grows with the node's peers, which may all have seen the same join, so that the
 * first of them speaks about `JOIN_SYNC_SPREAD_PER_PEER_MS` after the debounce whatever their
 * number.
 *
 * @param peers The peers on the ledger topic.
 * @param random A draw in [0, 1).
 * @returns The wait in milliseconds.
 */
export function joinSyncDelayMs(peers: number, random: number): number {
  const spreadMs = Math.min(
    JOIN_SYNC_MAX_SPREAD_MS,
    JOIN_SYNC_SPREAD_PER_PEER_MS * Math.max(1, peers),
  );
  return NEW_PEER_SYNC_DELAY_MS + random * spreadMs;
}

/** What a {@linkcode JoinSync} needs from its ledger. */
export interface JoinSyncInit {
  /** The peers on the ledger topic now. */
  peerCount(): number;
  /** Draws in [0, 1). */
  random(): number;
  /** Sends the current block to `peers`: the joins since the last turn that did not show they hold it. */
  sync(peers: string[]): void;
  /** Called instead of `sync` when every peer that joined showed it holds the block. */
  quiet(): void;
}

/** The sending of the block to joining peers of one ledger: one pending at a time. */
export class JoinSync {
  #init: JoinSyncInit;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** When the pending turn comes (`performance.now()` time). */
  #dueAt = 0;
  /** Peers that joined since the last turn and have not shown they hold the current block. */
  #waiting = new Set<string>();
  /** Peers that showed they hold the current block (a join of theirs needs nothing). */
  #holding = new Set<string>();

  /** @param init The ledger's side. */
  constructor(init: JoinSyncInit) {
    this.#init = init;
  }

  /**
   * `peer` joined (or may have missed the last block): send the block after the delay, unless it
   * shows meanwhile that it holds the current block.
   *
   * @param peer The peer's ID.
   * @param grafted Whether the peer joined this node's gossip mesh rather than the topic. A
   * peer subscribes and proves membership to every node it connects to, so these joins may
   * have been seen by all of them, which is what the random spread is for; a graft is seen by
   * the two ends of one link only, and waits the debounce alone.
   */
  peerJoined(peer: string, grafted = false): void {
    if (this.#holding.has(peer)) return;
    this.#waiting.add(peer);
    const delayMs = grafted
      ? NEW_PEER_SYNC_DELAY_MS
      : joinSyncDelayMs(this.#init.peerCount(), this.#init.random());
    const dueAt = performance.now() + delayMs;
    if (this.#timer !== undefined && this.#dueAt <= dueAt) return;
    clearTimeout(this.#timer);
    this.#dueAt = dueAt;
    this.#timer = setTimeout(() => this.#turn(), delayMs);
  }

  #turn(): void {
    this.#timer = undefined;
    const peers = [...this.#waiting];
    this.#waiting.clear();
    if (peers.length > 0) this.#init.sync(peers);
    else this.#init.quiet();
  }

  /** `peer` sent a block at least as new as this node's: it holds the current state. */
  peerHolds(peer: string): void {
    this.#waiting.delete(peer);
    this.#holding.add(peer);
  }

  /** The ledger's current block changed: no peer has shown it holds the new one yet. */
  blockChanged(): void {
    this.#holding.clear();
  }

  /** Drops the pending turn. */
  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#waiting.clear();
    this.#holding.clear();
  }
}
