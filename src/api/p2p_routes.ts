import { FEDERATED_POOL, MLX_WORKER_POOL, WORKER_POOL } from "../services/constants.ts";
import type { WorkerView } from "../services/pool.ts";
import { poolBucket } from "../services/records.ts";
import { json, type Router } from "./router.ts";
import type { ApiState } from "./state.ts";

/** A worker as `GET /api/pools/:pool` shows it. */
export interface PoolWorker {
  name: string;
  id: string;
  peerId: string | undefined;
  addresses: string[];
  online: boolean;
  offlineReason: string | undefined;
  lastSeen: string;
  receivedAgoMs: number;
  activeConnections: number;
  totalConnections: number;
}

/** The workers of `bucket`, with the balancer's counters when this node balances it. */
export function poolWorkers(state: ApiState, bucket: string): PoolWorker[] {
  const now = state.network.now();
  const federated = state.federated?.();
  const counters = new Map(federated?.workers.map((w) => [w.id, w]) ?? []);
  return state.pools.get(bucket).workers().map((w: WorkerView) => ({
    name: w.name,
    id: w.id,
    peerId: w.peerId,
    addresses: w.addresses,
    online: w.online,
    offlineReason: w.offlineReason,
    lastSeen: w.lastSeen,
    receivedAgoMs: Math.max(0, now - w.receivedAt),
    activeConnections: counters.get(w.id)?.active ?? 0,
    totalConnections: counters.get(w.id)?.total ?? 0,
  }));
}

const LOCALAI_POOLS = {
  llama_cpp: WORKER_POOL,
  federated: FEDERATED_POOL,
  mlx: MLX_WORKER_POOL,
} as const;

/** Adds `GET /api/pools/:pool`, `/api/federated`, LocalAI's `/api/p2p` and `/api/p2p/stats`. */
export function addP2PRoutes(router: Router, state: ApiState): Router {
  const bucketOf = (pool: string): string => poolBucket(pool, state.networkId);
  const nodeData = (pool: string) =>
    state.pools.get(bucketOf(pool)).workers().map((w) => ({
      Name: w.data.Name,
      ID: w.data.ID,
      TunnelAddress: w.data.TunnelAddress,
      ServiceID: w.data.ServiceID || w.name,
      LastSeen: w.data.LastSeen,
    }));
  const counts = (pool: string) => {
    const workers = state.pools.get(bucketOf(pool)).workers();
    return { online: workers.filter((w) => w.online).length, total: workers.length };
  };
  return router
    .add("GET", "/api/pools/:pool", (_req, { pool }) => {
      const bucket = bucketOf(pool ?? "");
      return json({ pool, bucket, workers: poolWorkers(state, bucket) });
    })
    .add(
      "GET",
      "/api/federated",
      () => {
        const stats = state.federated?.();
        return stats === undefined
          ? json(
            { error: "Cannot show federated stats: this node does not run `p2p federated`" },
            404,
          )
          : json(stats);
      },
    )
    .add("GET", "/api/p2p", () =>
      json({
        llama_cpp_nodes: nodeData(LOCALAI_POOLS.llama_cpp),
        federated_nodes: nodeData(LOCALAI_POOLS.federated),
        mlx_nodes: nodeData(LOCALAI_POOLS.mlx),
      }))
    .add("GET", "/api/p2p/stats", () =>
      json({
        llama_cpp_workers: counts(LOCALAI_POOLS.llama_cpp),
        federated: counts(LOCALAI_POOLS.federated),
        mlx_workers: counts(LOCALAI_POOLS.mlx),
      }))
    .add("GET", "/readyz", () => {
      const reasons = state.readiness.map((check) => check()).filter((r) => r !== undefined);
      return json(
        { ready: reasons.length === 0, reasons, peers: state.network.node.getPeers().length },
        reasons.length === 0 ? 200 : 503,
      );
    });
}
