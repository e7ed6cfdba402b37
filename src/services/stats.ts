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

/** A fresh set of zeroed counters. */
export function emptyTunnelStats(): TunnelStats {
  return { active: 0, total: 0, failed: 0, bytesOut: 0, bytesIn: 0 };
}

/** Process-wide totals over every tunnel, which metrics read. */
export const tunnelTotals: TunnelStats = emptyTunnelStats();
