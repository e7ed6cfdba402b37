import { getLogger } from "@logtape/logtape";
import {
  type Block,
  genesisBlock,
  needsJsonEscape,
  nextBlock,
  shouldAdopt,
  type Storage,
  withoutBucket,
  withoutKey,
  withValue,
} from "./block.ts";
import { SYNC_INTERVAL_MS, SYNC_QUIET_AFTER } from "./constants.ts";
import type { GossipRejection } from "./envelope.ts";
import { LedgerWriteError } from "./errors.ts";
import { JoinSync } from "./join_sync.ts";
import { OwnEntries } from "./own_entries.ts";
import type { BlockChannel } from "./block_channel.ts";
import { equalJitter } from "../node/backoff.ts";

const log = getLogger(["p2p", "ledger"]);

/** Options of a {@linkcode Ledger}. */
export interface LedgerInit {
  /** Where blocks are sent and received. */
  channel: BlockChannel;
  /** The clock, in milliseconds since the epoch. @default {Date.now} */
  now?: () => number;
  /**
   * Upper bound between full-block rebroadcasts; each wait is drawn between half of it and
   * all of it, so that nodes started together do not rebroadcast together. @default {10000}
   */
  syncIntervalMs?: number;
  /** Where the rebroadcast waits are drawn from, in [0, 1). @default {Math.random} */
  random?: () => number;
  /**
   * Least time between two immediate write-backs of the same entry; a later one waits for the
   * end of this interval (two owners of one key then alternate at this pace, not in a storm).
   * @default {1000}
   */
  reannounceIntervalMs?: number;
}

/** Counters of a ledger, for the API and metrics. */
export interface LedgerStats {
  /** Index of the current block. */
  index: number;
  /** Blocks received from peers and adopted. */
  applied: number;
  /** Blocks received that lost the merge rule (older or equal). */
  ignored: number;

  /** Messages dropped as malformed, by reason. */
  dropped: Partial<Record<GossipRejection, number>>;
  /** Blocks this node published (writes and rebroadcasts). */
  published: number;
  /** Blocks this node sent to a single peer that joined, instead of publishing them. */
  sentDirect: number;
  /** Times this node re-announced its own entries after adopting a block that lacked them. */
  reannounced: number;
  /**
   * Periodic rebroadcasts skipped because peers had rebroadcast this very block meanwhile
   * (see `SYNC_QUIET_AFTER`).
   */
  quiet: number;
  /**
   * Rebroadcasts for joining peers skipped because each of them sent a block at least as new
   * before this node's turn came (see `join_sync.ts`).
   */
  joinQuiet: number;
}

/** The ledger's change events. */
export interface LedgerEventMap {
  /** The current block changed (local write or adopted block). */
  change: CustomEvent<{ block: Block; local: boolean }>;
}

/** A `put` waiting for the end of the tick, to be committed with the others of that tick. */
interface PendingPut {
  bucket: string;
  key: string;
  json: string;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * The replicated bucket → key → JSON map of an edgevpn network: one versioned snapshot
 * (the last block) that every write replaces and every node rebroadcasts.
 *
 * Entries this node writes are its own: it keeps them announced. When it adopts a newer
 * block from a peer that lacks them (a concurrent write won the merge), it writes them back
 * at once rather than at its next tick, as edgevpn does. Its deletions are re-asserted the
 * same way for a while.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { type Block } from "@p2p/p2p";
 * import type { BlockChannel } from "./block_channel.ts";
 * import { Ledger } from "./ledger.ts";
 *
 * // An in-memory channel that keeps what the ledger publishes.
 * const published: Block[] = [];
 * const channel: BlockChannel = {
 *   encode() {},
 *   publish(block) {
 *     published.push(block);
 *     return Promise.resolve(0);
 *   },
 *   onBlock() {},
 *   onReject() {},
 *   onPeerJoin() {},
 *   peerCount: () => 0,
 * };
 * const ledger = new Ledger({ channel });
 * await ledger.put("settings", "color", "blue");
 * assert.equal(ledger.get("settings", "color"), "blue");
 * assert.equal(published.at(-1)?.Storage.settings?.color, '"blue"');
 * await ledger.delete("settings", "color");
 * assert.equal(ledger.has("settings", "color"), false);
 * ```
 */
export class Ledger extends EventTarget {
  #channel: BlockChannel;
  #now: () => number;
  #syncIntervalMs: number;
  #random: () => number;
  /** Copies of the current block heard from peers since the last periodic rebroadcast. */
  #heardSame = 0;
  #block: Block;
  #own: OwnEntries;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #reannounceTimer: ReturnType<typeof setTimeout> | undefined;
  #running = false;
  /**
   * Whether a gossip publish of this node's reached a peer: until then its joins are answered
   * by gossip, so that the members it is not connected to hear a block it wrote (that is how
   * they learn it is a member) without waiting for its next write.
   */
  #gossipedToPeers = false;
  /**
   * Puts of the current tick: they share one block (one checksum, one seal, one gossip
   * message), which is what makes a burst of writes cheap in a large ledger. Any read, and
   * the end of the tick, commits them.
   */
  #pending: PendingPut[] = [];
  #stats: LedgerStats = {
    index: 0,
    applied: 0,
    ignored: 0,
    dropped: {},
    published: 0,
    sentDirect: 0,
    reannounced: 0,
    quiet: 0,
    joinQuiet: 0,
  };
  #joinSync: JoinSync;

  /**
   * Creates a ledger holding the genesis block; it rebroadcasts nothing until
   * {@linkcode Ledger.start}.
   *
   * @param init The gossip channel and the clock.
   */
  constructor(init: LedgerInit) {
    super();
    this.#channel = init.channel;
    this.#now = init.now ?? Date.now;
    this.#syncIntervalMs = init.syncIntervalMs ?? SYNC_INTERVAL_MS;
    this.#random = init.random ?? Math.random;
    this.#own = new OwnEntries({
      now: this.#now,
      ...(init.reannounceIntervalMs === undefined
        ? {}
        : { reannounceIntervalMs: init.reannounceIntervalMs }),
    });
    this.#block = genesisBlock(new Date(this.#now()));
    this.#channel.onBlock((block, from, direct) => this.#receive(block, from, direct));
    this.#channel.onReject((reason) => {
      this.#stats.dropped[reason] = (this.#stats.dropped[reason] ?? 0) + 1;
    });
    this.#joinSync = new JoinSync({
      peerCount: () => this.#channel.peerCount(),
      random: this.#random,
      sync: (peers) => void this.#syncFor(peers),
      quiet: () => this.#stats.joinQuiet++,
    });
    this.#channel.onPeerJoin((peer, grafted) => this.#joinSync.peerJoined(peer, grafted));
  }

  /** Starts the periodic rebroadcast (the first one at once). */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#scheduleSync(0);
  }

  /** Stops the periodic rebroadcast and any pending write-back. */
  stop(): void {
    this.#commitPending();
    this.#running = false;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    clearTimeout(this.#reannounceTimer);
    this.#reannounceTimer = undefined;
    this.#joinSync.stop();
  }

  /** The current block. */
  get block(): Block {
    this.#commitPending();
    return this.#block;
  }

  /** A copy of the counters. */
  get stats(): LedgerStats {
    return structuredClone({ ...this.#stats, index: this.block.Index });
  }

  /** All buckets: bucket → key → JSON text. */
  get storage(): Storage {
    return this.block.Storage;
  }

  /** The bucket's entries, each value parsed from its JSON text. */
  bucket(bucket: string): Record<string, unknown> {
    const entries = ownEntry(this.block.Storage, bucket) ?? {};
    return Object.fromEntries(Object.entries(entries).map(([k, v]) => [k, parseJson(v)]));
  }

  /** The value under `bucket`/`key`, parsed from its JSON text; `undefined` when absent. */
  get(bucket: string, key: string): unknown {
    const text = this.#text(bucket, key);
    return text === undefined ? undefined : parseJson(text);
  }

  /** Whether `bucket`/`key` holds a value. */
  has(bucket: string, key: string): boolean {
    return this.#text(bucket, key) !== undefined;
  }

  /** The JSON text under `bucket`/`key`: own entries only (not `constructor`, `toString`…). */
  #text(bucket: string, key: string): string | undefined {
    const entries = ownEntry(this.block.Storage, bucket);
    return entries === undefined ? undefined : ownEntry(entries, key);
  }

  /**
   * Writes `value` (as JSON) under `bucket`/`key` and keeps it announced until deleted. Puts
   * made in the same tick share one block; a read in between commits the ones before it.
   *
   * @throws {LedgerWriteError} The new block would exceed the gossip limit, or the bucket or
   * key holds a character JSON must escape (see `needsJsonEscape`); nothing changes.
   */
  put(bucket: string, key: string, value: unknown): Promise<void> {
    if (needsJsonEscape(bucket) || needsJsonEscape(key)) {
      return Promise.reject(
        new LedgerWriteError(
          `Cannot write to the ledger: ${
            JSON.stringify(`${bucket}/${key}`)
          } holds a character JSON must escape`,
        ),
      );
    }
    const json = JSON.stringify(value) ?? "null";
    return new Promise<void>((resolve, reject) => {
      if (this.#pending.length === 0) queueMicrotask(() => this.#commitPending());
      this.#pending.push({ bucket, key, json, resolve, reject });
    });
  }

  /**
   * Commits the pending puts as one block and publishes it once; each put resolves when it
   * is sent. If the shared block would be too large, they are committed one by one and only
   * the ones that do not fit are rejected, as if each had been made alone.
   */
  #commitPending(): void {
    if (this.#pending.length === 0) return;
    const batch = this.#pending;
    this.#pending = [];
    let storage = this.#block.Storage;
    for (const p of batch) storage = withValue(storage, p.bucket, p.key, p.json);
    const committed: PendingPut[] = [];
    try {
      this.#commit(storage);
      committed.push(...batch);
    } catch {
      for (const p of batch) {
        try {
          this.#commit(withValue(this.#block.Storage, p.bucket, p.key, p.json));
          committed.push(p);
        } catch (err) {
          p.reject(err);
        }
      }
    }
    if (committed.length === 0) return;
    for (const p of committed) this.#own.wrote(p.bucket, p.key, p.json);
    void this.#publish().then(() => {
      for (const p of committed) p.resolve();
    });
  }

  /** Deletes `bucket`/`key` and stops announcing it. */
  async delete(bucket: string, key: string): Promise<void> {
    this.#commitPending();
    this.#own.deleted(bucket, key);
    if (!this.has(bucket, key)) return;
    this.#commit(withoutKey(this.#block.Storage, bucket, key));
    await this.#publish();
  }

  /** Deletes a whole bucket and stops announcing its entries. */
  async deleteBucket(bucket: string): Promise<void> {
    this.#commitPending();
    this.#own.deletedBucket(bucket);
    if (this.#block.Storage[bucket] === undefined) return;
    this.#commit(withoutBucket(this.#block.Storage, bucket));
    await this.#publish();
  }

  /** Stops announcing `bucket`/`key` without deleting it (it ages out where readers judge it). */
  forget(bucket: string, key: string): void {
    this.#commitPending();
    this.#own.forgot(bucket, key);
  }

  /** Rebroadcasts the whole current block now (how newcomers learn the state). */
  sync(): void {
    this.#commitPending();
    void this.#publish();
  }

  /**
   * The block for peers that joined: each is sent it alone where the channel can (a join was
   * seen by every node the peer connected to, and a gossip rebroadcast would reach them all),
   * and it is published for the others (LocalAI/edgevpn peers), and for all of them until a
   * publish of this node's reached a peer (see `#gossipedToPeers`).
   */
  async #syncFor(peers: readonly string[]): Promise<void> {
    this.#commitPending();
    const block = this.#block;
    const unreached = this.#channel.sendTo === undefined || !this.#gossipedToPeers
      ? peers
      : await this.#channel.sendTo(block, peers);
    const reached = peers.filter((peer) => !unreached.includes(peer));
    this.#stats.sentDirect += reached.length;
    // A peer that took the block holds one at least as new: it adopted it, or its own won.
    if (this.#block === block) { for (const peer of reached) this.#joinSync.peerHolds(peer); }
    if (unreached.length > 0) this.sync();
  }

  #commit(storage: Storage): void {
    const block = nextBlock(this.#block, storage, new Date(this.#now()));
    this.#channel.encode(block);
    this.#setBlock(block, true);
  }

  #setBlock(block: Block, local: boolean): void {
    this.#block = block;
    this.#heardSame = 0;
    this.#joinSync.blockChanged();
    this.dispatchEvent(new CustomEvent("change", { detail: { block, local } }));
  }

  async #publish(): Promise<void> {
    try {
      const recipients = await this.#channel.publish(this.#block);
      this.#stats.published++;
      if (recipients > 0) this.#gossipedToPeers = true;
    } catch (err) {
      log.debug("Cannot publish the ledger block: {error}", { error: String(err) });
    }
  }

  #receive(block: Block, from: string, direct: boolean): void {
    this.#commitPending();
    if (block.Index === this.#block.Index && block.Hash === this.#block.Hash) {
      // A copy sent to this node alone says nothing of what the others heard.
      if (!direct) this.#heardSame++;
      this.#joinSync.peerHolds(from);
    }
    if (!shouldAdopt(this.#block, block)) {
      this.#stats.ignored++;
      return;
    }
    this.#stats.applied++;
    log.trace("Adopted block {index} from {from}", { index: block.Index, from });
    this.#setBlock(block, false);
    this.#joinSync.peerHolds(from);
    this.#reassertOwnEntries();
  }

  /**
   * Writes back own entries and deletions the current block lacks, as far as they are due
   * (see {@linkcode OwnEntries}); the others are asked for again once their interval ends
   * (`force` then writes them back whatever the interval says).
   */
  #reassertOwnEntries(force = false): void {
    const { storage, retryInMs } = this.#own.writeBack(this.#block.Storage, force);
    if (retryInMs !== undefined && this.#reannounceTimer === undefined) {
      this.#reannounceTimer = setTimeout(() => {
        this.#reannounceTimer = undefined;
        this.#reassertOwnEntries(true);
      }, retryInMs);
    }
    if (storage === this.#block.Storage) return;
    try {
      this.#commit(storage);
    } catch (err) {
      log.warning("Cannot re-announce this node's entries: {error}", { error: String(err) });
      return;
    }
    this.#stats.reannounced++;
    void this.#publish();
  }

  #scheduleSync(delayMs: number): void {
    if (!this.#running) return;
    this.#timer = setTimeout(() => {
      this.#periodicSync();
      this.#scheduleSync(equalJitter(this.#syncIntervalMs, this.#random));
    }, delayMs);
  }

  /** Rebroadcasts, unless enough peers rebroadcast this very block since the last time. */
  #periodicSync(): void {
    this.#commitPending();
    const quiet = this.#heardSame >= SYNC_QUIET_AFTER;
    this.#heardSame = 0;
    if (quiet) this.#stats.quiet++;
    else this.sync();
  }
}

function ownEntry<T>(record: Record<string, T>, name: string): T | undefined {
  return Object.hasOwn(record, name) ? record[name] : undefined;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
