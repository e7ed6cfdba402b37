import type { FederatedStats } from "../federated/options.ts";
import { TUNNEL_TOTALS, type TunnelStats } from "../services/stats.ts";
import type { ApiState } from "./state.ts";

/**
 * This network's tunnel ends: services and connections plus the federated balancer's
 * connections, which it counts itself. One convention everywhere: sent into the network,
 * received from it.
 */
export function allTunnels(state: ApiState, federated?: FederatedStats): TunnelStats {
  const totals = { ...state.network.shared(TUNNEL_TOTALS) };
  for (const worker of (federated ?? state.federated?.())?.workers ?? []) {
    totals.active += worker.active;
    totals.total += worker.total;
    totals.failed += worker.failed;
    totals.bytesSent += worker.bytesSent;
    totals.bytesReceived += worker.bytesReceived;
  }
  return totals;
}

/** A worker of a pool this node follows, as the dashboard's history sees it. */
export interface PoolWorkerState {
  pool: string;
  id: string;
  name: string;
  online: boolean;
  offlineReason: string | undefined;
}

/**
 * Every counter and state the dashboard's history samples, read in one go from the same
 * sources `/metrics` reads (one source of truth: a chart and a `rate()` over the scrape agree).
 */
export interface CounterSnapshot {
  /** When it was read (this node's clock, ms since the epoch). */
  at: number;
  /** Connected peers (`p2p_peers`). */
  peers: number;
  /** `p2p_tunnel_*`. */
  tunnels: TunnelStats;
  /** The balancer's counters when this node runs `federated` (`p2p_federated_*`). */
  federated: FederatedStats | undefined;
  /** Workers of every pool this node follows, with their online state. */
  poolWorkers: PoolWorkerState[];
}

/** Reads a {@linkcode CounterSnapshot} of `state`. */
export function readCounters(state: ApiState): CounterSnapshot {
  const federated = state.federated?.();
  const poolWorkers = state.pools.buckets().flatMap((pool) =>
    state.pools.get(pool).workers().map((w) => ({
      pool,
      id: w.id,
      name: w.name,
      online: w.online,
      offlineReason: w.offlineReason,
    }))
  );
  return {
    at: state.network.now(),
    peers: state.network.node.getPeers().length,
    tunnels: allTunnels(state, federated),
    federated,
    poolWorkers,
  };
}
