import type { Ledger } from "../ledger/ledger.ts";
import { HEALTHCHECK_BUCKET, HEALTHCHECK_INTERVAL_MS } from "../ledger/constants.ts";

/** The clock, the random source and the period of a heartbeat. */
export interface HeartbeatInit {
  /** The clock, in milliseconds since the epoch. */
  now: () => number;
  /** Uniform in [0, 1): where in the period the beats fall. @default {Math.random} */
  random?: () => number;
  /** The period. @default {30000} */
  intervalMs?: number;
}

/**
 * Writes `healthcheck/<peerId>` now and once per 30 s after, as edgevpn's `services.Alive`
 * does: how LocalAI counts live nodes, and how a node proves membership to peers that cannot
 * challenge. The second beat comes at a random point of the first period and the rest keep
 * that phase: nodes started together would otherwise write together every 30 s, and
 * concurrent writes to the ledger lose to each other and are written again.
 *
 * @returns A function that stops the heartbeat.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { startHeartbeat } from "./heartbeat.ts";
 * import type { Ledger } from "../ledger/ledger.ts";
 *
 * const writes: string[] = [];
 * const ledger = {
 *   put: (_bucket: string, _key: string, stamp: string) => (writes.push(stamp), Promise.resolve()),
 * } as unknown as Ledger;
 * const stop = startHeartbeat(ledger, "12D3KooWself", { now: () => 0 });
 * stop();
 * assert.deepEqual(writes, ["1970-01-01T00:00:00Z"]);
 * ```
 */
export function startHeartbeat(ledger: Ledger, peerId: string, init: HeartbeatInit): () => void {
  const intervalMs = init.intervalMs ?? HEALTHCHECK_INTERVAL_MS;
  const beat = (): void => {
    // Go writes time.RFC3339 in UTC: whole seconds.
    const stamp = new Date(init.now()).toISOString().replace(/\.\d+Z$/, "Z");
    ledger.put(HEALTHCHECK_BUCKET, peerId, stamp).catch(() => {});
  };
  beat();
  let interval: ReturnType<typeof setInterval> | undefined;
  const phase = setTimeout(() => {
    beat();
    interval = setInterval(beat, intervalMs);
  }, intervalMs * (init.random ?? Math.random)());
  return () => {
    clearTimeout(phase);
    clearInterval(interval);
  };
}
