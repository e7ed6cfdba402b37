import { type Storage, withoutKey, withValue } from "./block.ts";
import { REANNOUNCE_MIN_INTERVAL_MS, TOMBSTONE_TTL_MS } from "./constants.ts";

type Key = `${string}\u0000${string}`;

function keyOf(bucket: string, key: string): Key {
  return `${bucket}\u0000${key}`;
}

/** Options of {@linkcode OwnEntries}. */
export interface OwnEntriesInit {
  /** The clock, in milliseconds since the epoch. */
  now: () => number;
  /** Least time between two immediate write-backs of the same entry. @default {1000} */
  reannounceIntervalMs?: number;
}

/** What {@linkcode OwnEntries.writeBack} decided. */
export interface WriteBack {
  /** The storage with the entries written back: the one given when nothing is due. */
  storage: Storage;
  /** Ask again in this many ms: an entry's write-back waits for its interval to end. */
  retryInMs: number | undefined;
}

/**
 * The entries a node wrote and keeps announced, and its recent deletions: what it writes back
 * when a block it adopts lacks them. A missing entry is written back at once, always. An
 * entry that another writer changed, or a deleted key that came back, is written back at once
 * only if its last write-back was at least `reannounceIntervalMs` ago, else once that
 * interval ends: two writers contesting one key then alternate at that pace, not in a storm.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { OwnEntries } from "./own_entries.ts";
 *
 * let now = 0;
 * const own = new OwnEntries({ now: () => now });
 * own.wrote("settings", "color", '"blue"');
 * // A block without the entry: it is written back at once.
 * assert.deepEqual(own.writeBack({}, false).storage, { settings: { color: '"blue"' } });
 * // Another writer changed it: written back at once, the first time.
 * const changed = { settings: { color: '"red"' } };
 * assert.deepEqual(own.writeBack(changed, false).storage, { settings: { color: '"blue"' } });
 * // It answered with its own value again: this write-back waits for the interval.
 * assert.deepEqual(own.writeBack(changed, false), { storage: changed, retryInMs: 1000 });
 * now = 1000;
 * assert.deepEqual(own.writeBack(changed, false).storage, { settings: { color: '"blue"' } });
 * ```
 */
export class OwnEntries {
  #now: () => number;
  #intervalMs: number;
  #owned = new Map<Key, { bucket: string; key: string; json: string }>();
  #tombstones = new Map<Key, { bucket: string; key: string; until: number }>();
  #writtenBackAt = new Map<Key, number>();

  /**
   * Creates an empty record: nothing owned, nothing deleted.
   *
   * @param init The clock and the least interval between two write-backs of one entry.
   */
  constructor(init: OwnEntriesInit) {
    this.#now = init.now;
    this.#intervalMs = init.reannounceIntervalMs ?? REANNOUNCE_MIN_INTERVAL_MS;
  }

  /** This node wrote `json` under `bucket`/`key`: keep it announced. */
  wrote(bucket: string, key: string, json: string): void {
    const id = keyOf(bucket, key);
    this.#owned.set(id, { bucket, key, json });
    this.#tombstones.delete(id);
  }

  /** This node deleted `bucket`/`key`: keep it deleted for a while (`TOMBSTONE_TTL_MS`). */
  deleted(bucket: string, key: string): void {
    const id = keyOf(bucket, key);
    this.#owned.delete(id);
    this.#tombstones.set(id, { bucket, key, until: this.#now() + TOMBSTONE_TTL_MS });
  }

  /** This node deleted `bucket`: stop announcing its entries. */
  deletedBucket(bucket: string): void {
    for (const [id, entry] of this.#owned) if (entry.bucket === bucket) this.#owned.delete(id);
  }

  /** Stop announcing `bucket`/`key` without deleting it. */
  forgot(bucket: string, key: string): void {
    this.#owned.delete(keyOf(bucket, key));
  }

  /**
   * `storage` with this node's entries and deletions written back where they are due.
   *
   * @param storage The adopted block's storage.
   * @param force Write back every difference now, whatever the interval says.
   * @returns The storage to commit (the same object when nothing changed) and when to ask
   * again for the write-backs that must wait.
   */
  writeBack(storage: Storage, force: boolean): WriteBack {
    const now = this.#now();
    for (const [id, at] of this.#writtenBackAt) {
      if (now - at >= this.#intervalMs) this.#writtenBackAt.delete(id);
    }
    let retryInMs: number | undefined;
    const due = (id: Key): boolean => {
      const at = this.#writtenBackAt.get(id);
      const waitMs = at === undefined ? 0 : at + this.#intervalMs - now;
      if (force || waitMs <= 0) {
        this.#writtenBackAt.set(id, now);
        return true;
      }
      retryInMs = Math.min(retryInMs ?? waitMs, waitMs, this.#intervalMs);
      return false;
    };
    let result = storage;
    for (const [id, { bucket, key, json }] of this.#owned) {
      const current = result[bucket]?.[key];
      if (current === undefined || (current !== json && due(id))) {
        result = withValue(result, bucket, key, json);
      }
    }
    for (const [id, stone] of this.#tombstones) {
      if (stone.until < now) this.#tombstones.delete(id);
      else if (result[stone.bucket]?.[stone.key] !== undefined && due(id)) {
        result = withoutKey(result, stone.bucket, stone.key);
      }
    }
    return { storage: result, retryInMs };
  }
}
