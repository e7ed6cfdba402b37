import type { CounterSnapshot } from "./counters.ts";

/** Something that happened to the workers, marked on the dashboard's time axis. */
export type HistoryEvent =
  | {
    at: number;
    kind: "online";
    pool: string;
    worker: string;
    name: string;
  }
  | {
    at: number;
    kind: "offline";
    pool: string;
    worker: string;
    name: string;
    /** Why (the pool view's reason), or `removed` when its entry left the ledger. */
    reason: string;
  }
  | {
    at: number;
    /** Client connections moved to another worker after a failed attempt. */
    kind: "failover";
    count: number;
    /** The workers whose tunnels failed in the same sample. */
    workers: string[];
  }
  | {
    at: number;
    /** Client connections for which every online worker failed. */
    kind: "failed";
    count: number;
  };

interface PoolState {
  online: boolean;
  reason: string | undefined;
  name: string;
}

/**
 * Turns successive {@linkcode CounterSnapshot}s into {@linkcode HistoryEvent}s, keeping at
 * most `maxEvents` (the oldest go first). Its other memory is one state per worker of the
 * pools this node follows, which the pool views hold anyway.
 */
export class HistoryEventLog {
  readonly maxEvents: number;
  #events: HistoryEvent[] = [];
  #pools = new Map<string, PoolState>();
  #previous: CounterSnapshot | undefined;

  /** @param maxEvents Events kept; older ones are dropped. */
  constructor(maxEvents: number) {
    this.maxEvents = maxEvents;
  }

  /** Compares `snapshot` with the previous one and records what changed. */
  record(snapshot: CounterSnapshot): void {
    const { at } = snapshot;
    const seen = new Set<string>();
    for (const worker of snapshot.poolWorkers) {
      const key = `${worker.pool}\u0000${worker.id}`;
      seen.add(key);
      const before = this.#pools.get(key);
      const state = { online: worker.online, reason: worker.offlineReason, name: worker.name };
      this.#pools.set(key, state);
      // The first snapshot is the starting state, not a change; a worker that appears
      // online later is news, one that appears offline is not.
      if (this.#previous === undefined || before?.online === worker.online) continue;
      if (before === undefined && !worker.online) continue;
      const base = { at, pool: worker.pool, worker: worker.id, name: worker.name };
      this.#push(
        worker.online
          ? { ...base, kind: "online" }
          : { ...base, kind: "offline", reason: worker.offlineReason ?? "unknown" },
      );
    }
    for (const [key, state] of this.#pools) {
      if (seen.has(key)) continue;
      this.#pools.delete(key);
      if (!state.online) continue;
      const [pool = "", worker = ""] = key.split("\u0000");
      this.#push({ at, kind: "offline", pool, worker, name: state.name, reason: "removed" });
    }
    const before = this.#previous?.federated;
    const now = snapshot.federated;
    if (before !== undefined && now !== undefined) {
      if (now.failovers > before.failovers) {
        const failedBefore = new Map(before.workers.map((w) => [w.id, w.failed]));
        const workers = now.workers.filter((w) => w.failed > (failedBefore.get(w.id) ?? 0))
          .map((w) => w.id);
        this.#push({ at, kind: "failover", count: now.failovers - before.failovers, workers });
      }
      if (now.failed > before.failed) {
        this.#push({ at, kind: "failed", count: now.failed - before.failed });
      }
    }
    this.#previous = snapshot;
  }

  /** Events after `since` (ms since the epoch) and not before `oldest`, oldest first. */
  events(since: number, oldest: number): HistoryEvent[] {
    return this.#events.filter((e) => e.at > since && e.at >= oldest);
  }

  #push(event: HistoryEvent): void {
    this.#events.push(event);
    if (this.#events.length > this.maxEvents) this.#events.shift();
  }
}
