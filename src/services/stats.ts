/** Counters of tunnelled connections, for the API and metrics. */
export interface TunnelStats {
  /** Tunnelled connections open now. */
  active: number;
  /** Tunnelled connections since start. */
  total: number;
  /** Connections that could not be tunnelled (no service, stream refused, target down). */
  failed: number;
  /** Bytes from the local TCP side into the network. */
  bytesOut: number;
  /** Bytes from the network to the local TCP side. */
  bytesIn: number;
}

/**
 * A fresh set of zeroed counters.
 *
 * @returns New counters, all zero.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { emptyTunnelStats } from "@p2p/p2p/services";
 *
 * const stats = emptyTunnelStats();
 * assert.deepEqual(stats, { active: 0, total: 0, failed: 0, bytesOut: 0, bytesIn: 0 });
 * assert.notEqual(emptyTunnelStats(), stats);
 * ```
 */
export function emptyTunnelStats(): TunnelStats {
  return { active: 0, total: 0, failed: 0, bytesOut: 0, bytesIn: 0 };
}

/**
 * Process-wide totals over every tunnel, which metrics read.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { emptyTunnelStats, tunnelTotals } from "@p2p/p2p/services";
 *
 * assert.deepEqual(Object.keys(tunnelTotals), Object.keys(emptyTunnelStats()));
 * // Every open tunnel is counted in the total too.
 * assert.ok(tunnelTotals.active <= tunnelTotals.total);
 * ```
 */
export const tunnelTotals: TunnelStats = emptyTunnelStats();
