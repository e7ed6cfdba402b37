import { VERSION } from "../node/version.ts";
import { asNodeData } from "../services/records.ts";
import { DASHBOARD_HTML } from "./dashboard_page.ts";
import { poolWorkers } from "./p2p_routes.ts";
import { json, type Router } from "./router.ts";
import type { ApiState } from "./state.ts";

/** Buckets whose entries are worker NodeData: pools, whether or not this node follows them. */
function poolBuckets(state: ApiState): string[] {
  const buckets = new Set(state.pools.buckets());
  for (const [bucket, entries] of Object.entries(state.network.ledger.storage)) {
    const values = Object.values(entries);
    if (values.length === 0) continue;
    const first = values[0];
    try {
      if (first !== undefined && asNodeData(JSON.parse(first)) !== undefined) buckets.add(bucket);
    } catch {
      // not JSON: not a pool
    }
  }
  return [...buckets].sort();
}

/** Everything the dashboard shows, in one document. */
export function dashboardSnapshot(state: ApiState): unknown {
  const { network } = state;
  const storage = network.ledger.storage;
  return {
    node: {
      peerId: network.peerId.toString(),
      role: state.role,
      version: VERSION,
      uptimeS: Math.round((network.now() - network.startedAt) / 1000),
      addresses: network.node.getMultiaddrs().map(String),
      ledgerIndex: network.ledger.block.Index,
    },
    peers: network.node.getConnections().map((c) => ({
      peerId: c.remotePeer.toString(),
      address: c.remoteAddr.toString(),
      direction: c.direction,
    })),
    pools: poolBuckets(state)
      .map((bucket) => ({ bucket, workers: poolWorkers(state, bucket) }))
      .filter((pool) => pool.workers.length > 0),
    federated: state.federated?.() ?? null,
    ledger: Object.keys(storage).sort().map((bucket) => ({
      bucket,
      keys: Object.keys(storage[bucket] ?? {}).length,
    })),
    at: network.now(),
  };
}

/** Adds the dashboard page at `GET /` and its data at `GET /api/dashboard`. */
export function addDashboardRoutes(router: Router, state: ApiState): Router {
  return router
    .add("GET", "/", () =>
      new Response(DASHBOARD_HTML, {
        headers: {
          "content-type": "text/html; charset=utf-8",
          "content-security-policy":
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:; form-action 'none'; frame-ancestors 'none'",
        },
      }))
    .add("GET", "/api/dashboard", () => json(dashboardSnapshot(state)));
}
