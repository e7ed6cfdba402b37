import { CONNECT_LATENCY_BOUNDS_MS, latencyQuantile } from "../federated/latency_histogram.ts";
import type { CounterSnapshot } from "./counters.ts";
import { type HistoryEvent, HistoryEventLog } from "./history_events.ts";

/** One sample per second… */
export const HISTORY_INTERVAL_MS = 1_000;
/** …for the last 15 minutes. */
export const HISTORY_CAPACITY = 900;
/** p50/p99 of each sample are over the tunnels opened in the last 10 samples (10 s). */
export const HISTORY_LATENCY_WINDOW = 10;
/** Workers with series at once; more are counted in `untrackedWorkers`, not recorded. */
export const HISTORY_MAX_WORKERS = 64;
/** Events (online, offline, failover) kept. */
export const HISTORY_MAX_EVENTS = 512;

/** Per-worker series, one value per sample (`null` in JSON where there is none). */
export const WORKER_SERIES = [
  "connectionsPerS",
  "failedPerS",
  "active",
  "bytesToWorkerPerS",
  "bytesFromWorkerPerS",
  "connectP50Ms",
  "connectP99Ms",
] as const;
/**
 * Node-wide series. `tunnelBytesOutPerS` is from local TCP into the network; the connect
 * quantiles are over every worker's tunnels.
 */
export const TOTAL_SERIES = [
  "peers",
  "tunnelsActive",
  "tunnelBytesInPerS",
  "tunnelBytesOutPerS",
  "connectionsPerS",
  "connectP50Ms",
  "connectP99Ms",
] as const;

type WorkerSeriesName = typeof WORKER_SERIES[number];
type TotalSeriesName = typeof TOTAL_SERIES[number];

/** What `GET /api/history` answers. */
export interface HistoryJson {
  intervalMs: number;
  capacity: number;
  latencyWindowMs: number;
  /** Sample times (ms since the epoch), oldest first; every series is aligned with it. */
  at: number[];
  totals: Record<TotalSeriesName, (number | null)[]>;
  workers: {
    id: string;
    name: string;
    series: Record<WorkerSeriesName, (number | null)[]>;
  }[];
  events: HistoryEvent[];
  /** Workers of the latest sample left out because {@linkcode HISTORY_MAX_WORKERS} are tracked. */
  untrackedWorkers: number;
}

/** Options of a {@linkcode MetricsHistory}; the defaults are the constants above. */
export interface MetricsHistoryInit {
  intervalMs?: number;
  capacity?: number;
  latencyWindow?: number;
  maxWorkers?: number;
  maxEvents?: number;
}

interface TrackedWorker {
  name: string;
  series: Record<WorkerSeriesName, Float32Array>;
  /** Cumulative latency bucket counts of the last `latencyWindow + 1` samples (a ring). */
  latencyWindow: Float64Array[];
  lastSample: number;
  previous: { total: number; failed: number; bytesSent: number; bytesReceived: number } | undefined;
}

const emptySeries = (capacity: number): Float32Array => new Float32Array(capacity).fill(NaN);

/**
 * The dashboard's memory of the last minutes: a ring buffer of samples of the node's counters
 * ({@linkcode CounterSnapshot}, the numbers `/metrics` exposes), turned into rates per second
 * and windowed latency quantiles, plus the events between samples.
 *
 * Memory is bounded: `capacity` sample times (Float64) and, per series, `capacity` Float32
 * values: 7 node-wide series and 7 per worker for at most `maxWorkers` workers, plus a latency
 * window of `latencyWindow + 1` bucket arrays per worker and at most `maxEvents` events. With
 * the defaults: 8·900 + 4·900·7 + 64·(4·900·7 + 8·11·18) B + 512 events of ~150 B ≈ 1.8 MB at
 * most (≈ 0.2 MB with the demo's three workers). A worker absent for a whole capacity is
 * forgotten, which makes room for another.
 */
export class MetricsHistory {
  readonly intervalMs: number;
  readonly capacity: number;
  readonly latencyWindow: number;
  readonly maxWorkers: number;
  #at: Float64Array;
  #totals: Record<TotalSeriesName, Float32Array>;
  #workers = new Map<string, TrackedWorker>();
  #events: HistoryEventLog;
  /** Samples recorded so far; the next one goes to `#samples % capacity`. */
  #samples = 0;
  #untracked = 0;
  #previous: CounterSnapshot | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;

  /** @param init Interval, capacity and bounds; see the `HISTORY_*` constants. */
  constructor(init: MetricsHistoryInit = {}) {
    this.intervalMs = init.intervalMs ?? HISTORY_INTERVAL_MS;
    this.capacity = init.capacity ?? HISTORY_CAPACITY;
    this.latencyWindow = init.latencyWindow ?? HISTORY_LATENCY_WINDOW;
    this.maxWorkers = init.maxWorkers ?? HISTORY_MAX_WORKERS;
    this.#at = new Float64Array(this.capacity);
    this.#totals = Object.fromEntries(
      TOTAL_SERIES.map((name) => [name, emptySeries(this.capacity)]),
    ) as Record<TotalSeriesName, Float32Array>;
    this.#events = new HistoryEventLog(init.maxEvents ?? HISTORY_MAX_EVENTS);
  }

  /** Records a sample now and every `intervalMs` from `read`, until {@linkcode stop}. */
  start(read: () => CounterSnapshot): void {
    if (this.#timer !== undefined) return;
    this.record(read());
    this.#timer = setInterval(() => this.record(read()), this.intervalMs);
    // A sampler must never be what keeps a process alive.
    Deno.unrefTimer(this.#timer);
  }

  /** Stops sampling; what was recorded stays readable. */
  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Adds one sample (no IO: tests feed snapshots directly). */
  record(snapshot: CounterSnapshot): void {
    const slot = this.#samples % this.capacity;
    const previous = this.#previous;
    const seconds = previous === undefined ? NaN : (snapshot.at - previous.at) / 1000;
    const rate = (now: number, before: number | undefined): number =>
      before === undefined || !(seconds > 0) || now < before ? NaN : (now - before) / seconds;
    this.#at[slot] = snapshot.at;
    const totals = this.#totals;
    totals.peers[slot] = snapshot.peers;
    totals.tunnelsActive[slot] = snapshot.tunnels.active;
    totals.tunnelBytesInPerS[slot] = rate(
      snapshot.tunnels.bytesReceived,
      previous?.tunnels.bytesReceived,
    );
    totals.tunnelBytesOutPerS[slot] = rate(snapshot.tunnels.bytesSent, previous?.tunnels.bytesSent);
    totals.connectionsPerS[slot] = rate(snapshot.tunnels.total, previous?.tunnels.total);

    for (const [id, worker] of this.#workers) {
      // Its last sample is the one this slot held: nothing of it is left to show.
      if (this.#samples - worker.lastSample >= this.capacity) this.#workers.delete(id);
      else for (const name of WORKER_SERIES) worker.series[name][slot] = NaN;
    }
    this.#untracked = 0;
    const allWorkersWindow = new Array<number>(CONNECT_LATENCY_BOUNDS_MS.length + 1).fill(0);
    for (const stats of snapshot.federated?.workers ?? []) {
      const worker = this.#track(stats.id, stats.name);
      if (worker === undefined) {
        this.#untracked++;
        continue;
      }
      worker.name = stats.name || worker.name;
      worker.lastSample = this.#samples;
      const before = worker.previous;
      const { series } = worker;
      series.connectionsPerS[slot] = rate(stats.total, before?.total);
      series.failedPerS[slot] = rate(stats.failed, before?.failed);
      series.active[slot] = stats.active;
      series.bytesToWorkerPerS[slot] = rate(stats.bytesSent, before?.bytesSent);
      series.bytesFromWorkerPerS[slot] = rate(stats.bytesReceived, before?.bytesReceived);
      const window = this.#latencyDelta(worker, stats.connectMs.counts);
      series.connectP50Ms[slot] = latencyQuantile(window, 0.5);
      series.connectP99Ms[slot] = latencyQuantile(window, 0.99);
      window.forEach((n, i) => allWorkersWindow[i]! += n);
      worker.previous = {
        total: stats.total,
        failed: stats.failed,
        bytesSent: stats.bytesSent,
        bytesReceived: stats.bytesReceived,
      };
    }
    totals.connectP50Ms[slot] = latencyQuantile(allWorkersWindow, 0.5);
    totals.connectP99Ms[slot] = latencyQuantile(allWorkersWindow, 0.99);
    this.#events.record(snapshot);
    this.#previous = snapshot;
    this.#samples++;
  }

  /**
   * The samples taken after `since` (ms since the epoch; all of them by default), as
   * `GET /api/history` answers. (Not `toJSON`: `JSON.stringify` would pass it a key.)
   */
  read(since = -Infinity): HistoryJson {
    const count = Math.min(this.#samples, this.capacity);
    const first = this.#samples - count;
    const slots: number[] = [];
    for (let n = first; n < this.#samples; n++) {
      const slot = n % this.capacity;
      if (this.#at[slot]! > since) slots.push(slot);
    }
    const pick = (values: Float32Array): (number | null)[] =>
      slots.map((slot) => rounded(values[slot]!));
    const oldest = count === 0 ? Infinity : this.#at[first % this.capacity]!;
    return {
      intervalMs: this.intervalMs,
      capacity: this.capacity,
      latencyWindowMs: this.latencyWindow * this.intervalMs,
      at: slots.map((slot) => this.#at[slot]!),
      totals: Object.fromEntries(
        TOTAL_SERIES.map((name) => [name, pick(this.#totals[name])]),
      ) as HistoryJson["totals"],
      workers: [...this.#workers].sort(([a], [b]) => a.localeCompare(b)).map(([id, w]) => ({
        id,
        name: w.name,
        series: Object.fromEntries(
          WORKER_SERIES.map((name) => [name, pick(w.series[name])]),
        ) as HistoryJson["workers"][number]["series"],
      })),
      events: this.#events.events(since, oldest),
      untrackedWorkers: this.#untracked,
    };
  }

  #track(id: string, name: string): TrackedWorker | undefined {
    const known = this.#workers.get(id);
    if (known !== undefined) return known;
    if (this.#workers.size >= this.maxWorkers) return undefined;
    const worker: TrackedWorker = {
      name,
      series: Object.fromEntries(
        WORKER_SERIES.map((series) => [series, emptySeries(this.capacity)]),
      ) as Record<WorkerSeriesName, Float32Array>,
      latencyWindow: [],
      lastSample: this.#samples,
      // A worker new to the balancer since the last sample started from zero; one that was
      // there already (the first sample, or room freed for it) has no known previous values.
      previous: this.#previous !== undefined &&
          !this.#previous.federated?.workers.some((w) => w.id === id)
        ? { total: 0, failed: 0, bytesSent: 0, bytesReceived: 0 }
        : undefined,
    };
    this.#workers.set(id, worker);
    return worker;
  }

  /**
   * Bucket counts of the tunnels opened since the oldest cumulative snapshot in the worker's
   * window, after adding the current one (a ring of `latencyWindow + 1` arrays).
   */
  #latencyDelta(worker: TrackedWorker, counts: readonly number[]): number[] {
    const size = this.latencyWindow + 1;
    const current = Float64Array.from(
      { length: CONNECT_LATENCY_BOUNDS_MS.length + 1 },
      (_, i) => counts[i] ?? 0,
    );
    worker.latencyWindow.push(current);
    if (worker.latencyWindow.length > size) worker.latencyWindow.shift();
    const oldest = worker.latencyWindow.length > 1 ? worker.latencyWindow[0]! : undefined;
    return [...current].map((n, i) => Math.max(0, n - (oldest?.[i] ?? 0)));
  }
}

/** Four significant digits: charts need no more, and Float32 noise stays out of the JSON. */
function rounded(value: number): number | null {
  return Number.isFinite(value) ? Number(value.toPrecision(4)) : null;
}
