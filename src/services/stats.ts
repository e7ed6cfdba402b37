import { type SharedKey, sharedKey } from "../network/components.ts";

/** Counters of tunnelled connections, for the API and metrics. */
export interface TunnelStats {
  /** Tunnelled connections open now. */
  active: number;
  /** Tunnelled connections since start. */
  total: number;
  /** Connections that could not be tunnelled (no service, stream refused, target down). */
  failed: number;
  /** Bytes this tunnel end sent into the network (from its local TCP side). */
  bytesSent: number;
  /** Bytes this tunnel end received from the network (for its local TCP side). */
  bytesReceived: number;
}

/**
 * A fresh set of zeroed counters.
 *
 * @returns New counters, all zero.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { emptyTunnelStats } from "./stats.ts";
 *
 * const stats = emptyTunnelStats();
 * assert.deepEqual(stats, { active: 0, total: 0, failed: 0, bytesSent: 0, bytesReceived: 0 });
 * assert.notEqual(emptyTunnelStats(), stats);
 * ```
 */
export function emptyTunnelStats(): TunnelStats {
  return { active: 0, total: 0, failed: 0, bytesSent: 0, bytesReceived: 0 };
}

/** The totals over every tunnel end of one network (services, connections), which metrics read. */
export const TUNNEL_TOTALS: SharedKey<TunnelStats> = sharedKey("tunnel totals", emptyTunnelStats);
