import { FAILURE_BACKOFF_BASE_MS, FAILURE_BACKOFF_MAX_MS } from "./constants.ts";
import {
  copyLatencyHistogram,
  emptyLatencyHistogram,
  type LatencyHistogram,
  observeLatency,
} from "./latency_histogram.ts";

/** A load-balancing strategy. */
export type Strategy = "least-connections" | "round-robin" | "random";

/** Counters of one worker, as `GET /api/federated` shows them. */
export interface WorkerStats {
  /** The worker ID. */
  id: string;
  /** Client connections open through it now. */
  active: number;
  /** Tunnels to it being opened now (least-connections counts them as live). */
  opening: number;
  /** Client connections it took since start. */
  total: number;
  /** Tunnels to it that could not be opened. */
  failed: number;
  /** Bytes clients sent to it (into the network). */
  bytesSent: number;
  /** Bytes it sent back to clients (received from the network). */
  bytesReceived: number;
  /** Failures since its last success (drives the backoff). */
  consecutiveFailures: number;
  /** Until when (ms since the epoch) it is skipped after failures; 0 when it is not. */
  backoffUntil: number;
  /** How long its tunnels took to open: from the attempt to a confirmed stream, successes only. */
  connectMs: LatencyHistogram;
}

/** Options of a {@linkcode Balancer}. */
export interface BalancerInit {
  /** @default {"least-connections"} */
  strategy?: Strategy;
  /** Pin every connection to this worker ID. */
  targetWorker?: string | undefined;
  /** Randomness in [0, 1). @default {Math.random} */
  random?: () => number;
  /** The clock, ms since the epoch. @default {Date.now} */
  now?: () => number;
  /** First failure backoff, doubling per consecutive failure. @default {1000} */
  backoffBaseMs?: number;
  /** Longest failure backoff. @default {30000} */
  backoffMaxMs?: number;
}

/**
 * The federated load balancer's decisions, with no IO: which workers to try for a new
 * client connection and in which order, and the accounting that drives it.
 *
 * Unlike LocalAI, least-connections counts live connections (not finished ones) and takes a
 * true minimum (ties → fewest total, then random); a worker that keeps failing is skipped
 * with exponential backoff, and the remaining candidates are the failover order.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { Balancer } from "./balancer.ts";
 * const balancer = new Balancer({ strategy: "round-robin" });
 * const online = ["a", "b", "c"];
 * const picks = [0, 1, 2, 3].map(() => balancer.candidates(online)[0]);
 * assert.deepEqual(picks, ["a", "b", "c", "a"]);
 * ```
 */
export class Balancer {
  readonly strategy: Strategy;
  readonly targetWorker: string | undefined;
  #random: () => number;
  #now: () => number;
  #baseMs: number;
  #maxMs: number;
  #stats = new Map<string, WorkerStats>();
  #cursor = 0;

  /** @param init Strategy, pinning, randomness, clock and backoff. */
  constructor(init: BalancerInit = {}) {
    this.strategy = init.strategy ?? "least-connections";
    this.targetWorker = init.targetWorker;
    this.#random = init.random ?? Math.random;
    this.#now = init.now ?? Date.now;
    this.#baseMs = init.backoffBaseMs ?? FAILURE_BACKOFF_BASE_MS;
    this.#maxMs = init.backoffMaxMs ?? FAILURE_BACKOFF_MAX_MS;
  }

  /**
   * The workers to try for a new connection, best first; the rest is the failover order.
   * Workers in backoff come last (still tried when nothing else works). With a target worker,
   * only it (and `[]` when it is not online).
   *
   * @param online The IDs of the online workers.
   */
  candidates(online: readonly string[]): string[] {
    if (this.targetWorker !== undefined) {
      return online.includes(this.targetWorker) ? [this.targetWorker] : [];
    }
    const ids = [...new Set(online)].sort();
    if (ids.length === 0) return [];
    const ordered = this.#order(ids);
    const now = this.#now();
    const ready = ordered.filter((id) => this.#stat(id).backoffUntil <= now);
    const waiting = ordered.filter((id) => this.#stat(id).backoffUntil > now)
      .sort((a, b) => this.#stat(a).backoffUntil - this.#stat(b).backoffUntil);
    return [...ready, ...waiting];
  }

  /**
   * Records that a tunnel to `id` is being opened for a client connection: until
   * {@linkcode open} or {@linkcode fail}, least-connections counts it as live, so a burst of
   * connections accepted together is spread instead of all seeing the same counts.
   */
  attempt(id: string): void {
    this.#stat(id).opening++;
  }

  /**
   * Records a client connection now flowing through `id` (ends its attempt, if any).
   *
   * @param id The worker.
   * @param connectMs How long its tunnel took to open, when measured.
   */
  open(id: string, connectMs?: number): void {
    const stat = this.#stat(id);
    if (connectMs !== undefined) observeLatency(stat.connectMs, connectMs);
    stat.opening = Math.max(0, stat.opening - 1);
    stat.active++;
    stat.total++;
    stat.consecutiveFailures = 0;
    stat.backoffUntil = 0;
  }

  /** Records the end of a connection through `id` and what it moved. */
  close(
    id: string,
    bytes: { bytesSent: number; bytesReceived: number } = { bytesSent: 0, bytesReceived: 0 },
  ): void {
    const stat = this.#stat(id);
    stat.active = Math.max(0, stat.active - 1);
    stat.bytesSent += bytes.bytesSent;
    stat.bytesReceived += bytes.bytesReceived;
  }

  /** Records a failed attempt to open a tunnel to `id`; it backs off exponentially. */
  fail(id: string): void {
    const stat = this.#stat(id);
    stat.opening = Math.max(0, stat.opening - 1);
    stat.failed++;
    stat.consecutiveFailures++;
    const delay = Math.min(this.#maxMs, this.#baseMs * 2 ** (stat.consecutiveFailures - 1));
    stat.backoffUntil = this.#now() + delay;
  }

  /** Forgets the failure state of `id` (it came back online). */
  reset(id: string): void {
    const stat = this.#stat(id);
    stat.consecutiveFailures = 0;
    stat.backoffUntil = 0;
  }

  /** Counters of every worker seen so far, sorted by ID. */
  stats(): WorkerStats[] {
    return [...this.#stats.values()]
      .map((s) => ({ ...s, connectMs: copyLatencyHistogram(s.connectMs) }))
      .sort((a, b) => a.id.localeCompare(b.id));
  }

  #order(ids: string[]): string[] {
    switch (this.strategy) {
      case "round-robin": {
        const start = this.#cursor++ % ids.length;
        return [...ids.slice(start), ...ids.slice(0, start)];
      }
      case "random":
        return this.#shuffle(ids);
      case "least-connections": {
        const tieBreak = new Map(ids.map((id) => [id, this.#random()]));
        return [...ids].sort((a, b) => {
          const sa = this.#stat(a);
          const sb = this.#stat(b);
          return sa.active + sa.opening - (sb.active + sb.opening) || sa.total - sb.total ||
            tieBreak.get(a)! - tieBreak.get(b)!;
        });
      }
    }
  }

  #shuffle(ids: string[]): string[] {
    const out = [...ids];
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(this.#random() * (i + 1));
      [out[i], out[j]] = [out[j]!, out[i]!];
    }
    return out;
  }

  #stat(id: string): WorkerStats {
    let stat = this.#stats.get(id);
    if (stat === undefined) {
      stat = {
        id,
        active: 0,
        opening: 0,
        total: 0,
        failed: 0,
        bytesSent: 0,
        bytesReceived: 0,
        consecutiveFailures: 0,
        backoffUntil: 0,
        connectMs: emptyLatencyHistogram(),
      };
      this.#stats.set(id, stat);
    }
    return stat;
  }
}
