import { Registry } from "prom-client";
import { FEDERATED_SERVERS } from "../federated/server.ts";
import type { NetworkComponent } from "../network/components.ts";
import type { Network } from "../network/network.ts";
import { POOL_VIEWS } from "../services/pool_views.ts";
import { addDashboardRoutes } from "./dashboard_routes.ts";
import { type AllowedHost, parseAllowedHosts } from "./host_guard.ts";
import { addMetricsRoute, registerP2PMetrics } from "./metrics.ts";
import { addNodeRoutes } from "./node_routes.ts";
import { addP2PRoutes } from "./p2p_routes.ts";
import { Router } from "./router.ts";
import { ApiListenError, type ApiServer, serveApi } from "./server.ts";
import type { ApiState } from "./state.ts";
import { readCounters } from "./counters.ts";
import { MetricsHistory } from "./history.ts";

/** Options of {@linkcode startApi}. */
export interface ApiOptions {
  /** `HOST:PORT` to listen on (`:PORT` means 127.0.0.1; port 0 picks one). */
  listen: string;
  /** Bearer token every request (but the page itself) needs; mandatory off loopback. */
  apiToken?: string | undefined;
  /** Hosts answered besides loopback and the bound address (`--api-allowed-hosts`). */
  allowedHosts?: readonly string[] | undefined;
  /** What this node runs, shown on the dashboard. @default {"node"} */
  role?: string;
  /** Extra readiness checks for `/readyz`: each says why the node is not ready, or nothing. */
  readiness?: (() => string | undefined)[];
  /** Adds routes of the caller's own. */
  routes?: (router: Router) => void;
}

/** A running API server: stops with its network (or with `stop()`). */
export interface RunningApi extends ApiServer, NetworkComponent {}

/**
 * Serves a network's HTTP API: the dashboard page, `/api/*` (node, peers, ledger, pools,
 * LocalAI's `/api/p2p` shapes, the federated balancers' counters), `/metrics` (Prometheus)
 * and `/healthz`, `/readyz`. Loopback by default; a `Host` or `Origin` from elsewhere gets 403.
 * The same API `p2p … --api-listen` serves.
 *
 * @param network The running network (started with `metrics: true` for libp2p's series).
 * @param options Where to listen, and the token.
 * @returns The server, added to the network.
 * @throws {ApiListenError} The address is malformed, not loopback without a token, or taken.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { generateToken, startApi, startNetwork } from "@p2p/p2p";
 *
 * await using network = await startNetwork({
 *   token: generateToken(),
 *   listen: ["/ip4/127.0.0.1/tcp/0"],
 *   bootstrapPeers: [],
 *   mdns: false,
 * });
 * const api = await startApi(network, { listen: "127.0.0.1:0" });
 * const response = await fetch(`http://${api.address}/api/node`);
 * assert.equal((await response.json()).peerId, network.peerId.toString());
 * ```
 */
export async function startApi(network: Network, options: ApiOptions): Promise<RunningApi> {
  const servers = network.shared(FEDERATED_SERVERS);
  const state: ApiState = {
    network,
    pools: network.shared(POOL_VIEWS),
    networkId: network.networkId,
    role: options.role ?? "node",
    federated: () => servers.values().next().value?.stats(),
    history: new MetricsHistory(),
    readiness: [
      ...(options.readiness ?? []),
      () => {
        const empty = [...servers].find((s) => s.view.online().length === 0);
        return empty === undefined ? undefined : `no worker online in ${empty.view.bucket}`;
      },
    ],
  };
  const registry = network.metricsRegistry ?? new Registry();
  registerP2PMetrics(registry, state);
  const router = addNodeRoutes(new Router(), network);
  addP2PRoutes(router, state);
  addDashboardRoutes(router, state);
  addMetricsRoute(router, registry);
  options.routes?.(router);
  let server: ApiServer | undefined;
  const api: RunningApi = {
    get address() {
      return server?.address ?? "";
    },
    start() {
      server = serveApi({
        listen: options.listen,
        apiToken: options.apiToken,
        allowedHosts: allowedHostsOf(options.allowedHosts),
        handler: router.handle,
      });
      // Sampled only while someone can read it, from the same counters /metrics reads.
      state.history.start(() => readCounters(state));
    },
    shutdown: () => {
      state.history.stop();
      return server?.shutdown() ?? Promise.resolve();
    },
    stop: () => api.shutdown(),
  };
  return await network.add(api);
}

/** The `allowedHosts` option parsed (`name` or `name:port` each), or an error naming it. */
function allowedHostsOf(hosts: readonly string[] | undefined): AllowedHost[] {
  if (hosts === undefined || hosts.length === 0) return [];
  try {
    return parseAllowedHosts(hosts.join(","), "allowedHosts");
  } catch (err) {
    throw new ApiListenError(err instanceof Error ? err.message : String(err), { cause: err });
  }
}
