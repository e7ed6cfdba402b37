/**
 * Upper bounds (ms) of the connect-latency buckets: fine below 10 ms, where a tunnel on a LAN
 * or loopback opens, coarse up to the connect timeout (3 s by default). The last bucket,
 * +Inf, is implicit: `counts` has one more entry than there are bounds.
 */
export const CONNECT_LATENCY_BOUNDS_MS: readonly number[] = [
  0.25,
  0.5,
  1,
  2,
  3,
  5,
  7.5,
  10,
  15,
  25,
  50,
  100,
  250,
  500,
  1_000,
  2_500,
  5_000,
];

/**
 * A latency histogram with fixed buckets ({@linkcode CONNECT_LATENCY_BOUNDS_MS}): a count per
 * bucket (not cumulative; the last one is +Inf), their sum and their number. Fixed memory
 * whatever the traffic, and what Prometheus exposes (`/metrics`), so every figure derived
 * from it (the dashboard's p50/p99) is the one an operator would compute there.
 */
export interface LatencyHistogram {
  /** Observations per bucket; `counts[i]` ≤ bound `i`, the last entry above every bound. */
  counts: number[];
  /** Sum of the observed values, in ms. */
  sumMs: number;
  /** Number of observations. */
  count: number;
}

/**
 * An empty histogram.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { CONNECT_LATENCY_BOUNDS_MS, emptyLatencyHistogram } from "./latency_histogram.ts";
 * const h = emptyLatencyHistogram();
 * assert.equal(h.counts.length, CONNECT_LATENCY_BOUNDS_MS.length + 1);
 * assert.equal(h.count, 0);
 * ```
 */
export function emptyLatencyHistogram(): LatencyHistogram {
  return { counts: new Array(CONNECT_LATENCY_BOUNDS_MS.length + 1).fill(0), sumMs: 0, count: 0 };
}

/** Records one observation of `ms` in `histogram`. */
export function observeLatency(histogram: LatencyHistogram, ms: number): void {
  let bucket = CONNECT_LATENCY_BOUNDS_MS.findIndex((bound) => ms <= bound);
  if (bucket === -1) bucket = CONNECT_LATENCY_BOUNDS_MS.length;
  histogram.counts[bucket] = (histogram.counts[bucket] ?? 0) + 1;
  histogram.sumMs += ms;
  histogram.count++;
}

/** A copy of `histogram` (the balancer hands out copies, never its live counters). */
export function copyLatencyHistogram(histogram: LatencyHistogram): LatencyHistogram {
  return { counts: [...histogram.counts], sumMs: histogram.sumMs, count: histogram.count };
}

/**
 * The `q`-quantile of per-bucket `counts`, estimated as Prometheus' `histogram_quantile` does:
 * linear interpolation inside the bucket that holds the rank, 0 as the lower edge of the
 * first bucket, and the highest finite bound when the rank falls in +Inf. `NaN` when there
 * is no observation.
 *
 * @param counts Observations per bucket (as in {@linkcode LatencyHistogram.counts}), for
 *   example the difference of two snapshots to get the quantile of a time window.
 * @param q The quantile, in [0, 1].
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   emptyLatencyHistogram,
 *   latencyQuantile,
 *   observeLatency,
 * } from "./latency_histogram.ts";
 * const h = emptyLatencyHistogram();
 * for (let i = 0; i < 100; i++) observeLatency(h, 4); // all in the (3, 5] bucket
 * assert.equal(latencyQuantile(h.counts, 0.5), 4);
 * assert.ok(Number.isNaN(latencyQuantile(emptyLatencyHistogram().counts, 0.5)));
 * ```
 */
export function latencyQuantile(counts: readonly number[], q: number): number {
  const total = counts.reduce((sum, n) => sum + n, 0);
  if (total <= 0) return NaN;
  const rank = q * total;
  let below = 0;
  for (let i = 0; i < counts.length; i++) {
    const inBucket = counts[i] ?? 0;
    if (inBucket > 0 && below + inBucket >= rank) {
      const upper = CONNECT_LATENCY_BOUNDS_MS[i];
      if (upper === undefined) return CONNECT_LATENCY_BOUNDS_MS.at(-1)!;
      const lower = i === 0 ? 0 : CONNECT_LATENCY_BOUNDS_MS[i - 1]!;
      return lower + (upper - lower) * ((rank - below) / inBucket);
    }
    below += inBucket;
  }
  return CONNECT_LATENCY_BOUNDS_MS.at(-1)!;
}
