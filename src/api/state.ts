import type { FederatedStats } from "../federated/options.ts";
import type { Network } from "../network/network.ts";
import type { PoolViews } from "../services/pool_views.ts";
import type { MetricsHistory } from "./history.ts";

/** What the API shows: the network, its pools, and what the running command adds. */
export interface ApiState {
  network: Network;
  pools: PoolViews;
  /** LocalAI network ID (bucket prefix). */
  networkId: string | undefined;
  /** The running command, for the dashboard (`node`, `worker`, `federated`, …). */
  role: string;
  /** The balancer's counters, when this node runs `federated`. */
  federated?: () => FederatedStats | undefined;
  /** The last minutes of the node's counters, for the dashboard's charts (`/api/history`). */
  history: MetricsHistory;
  /** Readiness checks: each returns why the node is not ready, or `undefined`. */
  readiness: (() => string | undefined)[];
}
