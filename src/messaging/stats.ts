/**
 * Traffic counters and request latency percentiles. Pure: no IO.
 *
 * @module
 */

import { LATENCY_SAMPLES } from "./constants.ts";
import type { RejectionReason } from "./errors.ts";

/** Messages and bytes of one message type (or topic), each way. */
export interface TrafficCounters {
  /** Messages accepted from peers. */
  messagesIn: number;
  /** Messages sent to peers (each attempt counts). */
  messagesOut: number;
  /** Frame bytes accepted from peers. */
  bytesIn: number;
  /** Frame bytes sent to peers. */
  bytesOut: number;
}

/** Request latency percentiles, over the most recent requests. */
export interface LatencySummary {
  /** Requests measured (all time). */
  count: number;
  /** Median, in milliseconds (`0` before any request). */
  p50: number;
  /** 90th percentile, in milliseconds. */
  p90: number;
  /** 99th percentile, in milliseconds. */
  p99: number;
}

/** A snapshot of a {@linkcode StatsRecorder}. */
export interface TrafficStats {
  /** Direct messages per message type. */
  types: Record<string, TrafficCounters>;
  /** Topic messages per topic. */
  topics: Record<string, TrafficCounters>;
  /** All direct and topic messages together. */
  total: TrafficCounters;
  /** Incoming messages refused, by reason. */
  rejected: Partial<Record<RejectionReason, number>>;
  /** Latency of successful requests, retries included. */
  requestLatencyMs: LatencySummary;
}

/**
 * Computes a percentile of ascending-sorted numbers by the nearest-rank method.
 *
 * @param sorted The numbers, ascending.
 * @param p The percentile, from 0 to 100.
 * @returns The value, or `0` for no numbers.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { percentile } from "./stats.ts";
 *
 * const values = Array.from({ length: 100 }, (_, i) => i + 1);
 * assert.equal(percentile(values, 50), 50);
 * assert.equal(percentile(values, 99), 99);
 * assert.equal(percentile([], 50), 0);
 * ```
 */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

function zero(): TrafficCounters {
  return { messagesIn: 0, messagesOut: 0, bytesIn: 0, bytesOut: 0 };
}

/**
 * Counts messages and bytes per type and topic, rejections per reason, and keeps the latest
 * request latencies (a bounded ring) for percentiles.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { StatsRecorder } from "./stats.ts";
 *
 * const stats = new StatsRecorder();
 * stats.sent("type", "echo", 120);
 * stats.received("type", "echo", 80);
 * stats.rejected("replay");
 * stats.latency(4);
 * const snapshot = stats.snapshot();
 * assert.deepEqual(snapshot.types.echo, { messagesIn: 1, messagesOut: 1, bytesIn: 80, bytesOut: 120 });
 * assert.equal(snapshot.rejected.replay, 1);
 * assert.equal(snapshot.requestLatencyMs.p50, 4);
 * ```
 */
export class StatsRecorder {
  #types = new Map<string, TrafficCounters>();
  #topics = new Map<string, TrafficCounters>();
  #total = zero();
  #rejected: Partial<Record<RejectionReason, number>> = {};
  #latencies: number[] = [];
  #next = 0;
  #count = 0;
  #samples: number;

  /**
   * Constructs a new instance.
   *
   * @param samples How many recent latencies to keep. @default {1024}
   */
  constructor(samples: number = LATENCY_SAMPLES) {
    this.#samples = Math.max(1, samples);
  }

  /**
   * Counts one message sent.
   *
   * @param scope Whether `name` is a message type or a topic.
   * @param name The message type or topic.
   * @param bytes The frame size.
   */
  sent(scope: "type" | "topic", name: string, bytes: number): void {
    const counters = this.#counters(scope, name);
    counters.messagesOut++;
    counters.bytesOut += bytes;
    this.#total.messagesOut++;
    this.#total.bytesOut += bytes;
  }

  /**
   * Counts one message accepted.
   *
   * @param scope Whether `name` is a message type or a topic.
   * @param name The message type or topic.
   * @param bytes The frame size.
   */
  received(scope: "type" | "topic", name: string, bytes: number): void {
    const counters = this.#counters(scope, name);
    counters.messagesIn++;
    counters.bytesIn += bytes;
    this.#total.messagesIn++;
    this.#total.bytesIn += bytes;
  }

  /**
   * Counts one incoming message refused.
   *
   * @param reason Why.
   */
  rejected(reason: RejectionReason): void {
    this.#rejected[reason] = (this.#rejected[reason] ?? 0) + 1;
  }

  /**
   * Records the latency of one successful request.
   *
   * @param ms The latency in milliseconds.
   */
  latency(ms: number): void {
    this.#latencies[this.#next] = ms;
    this.#next = (this.#next + 1) % this.#samples;
    this.#count++;
  }

  /**
   * A copy of the counters with the latency percentiles.
   *
   * @returns The snapshot.
   */
  snapshot(): TrafficStats {
    const sorted = [...this.#latencies].sort((a, b) => a - b);
    return {
      types: Object.fromEntries([...this.#types].map(([k, v]) => [k, { ...v }])),
      topics: Object.fromEntries([...this.#topics].map(([k, v]) => [k, { ...v }])),
      total: { ...this.#total },
      rejected: { ...this.#rejected },
      requestLatencyMs: {
        count: this.#count,
        p50: percentile(sorted, 50),
        p90: percentile(sorted, 90),
        p99: percentile(sorted, 99),
      },
    };
  }

  #counters(scope: "type" | "topic", name: string): TrafficCounters {
    const map = scope === "type" ? this.#types : this.#topics;
    let counters = map.get(name);
    if (counters === undefined) {
      counters = zero();
      map.set(name, counters);
    }
    return counters;
  }
}
