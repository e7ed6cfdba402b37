import { getLogger } from "@logtape/logtape";
import { addDashboardRoutes } from "../api/dashboard_routes.ts";
import type * as MetricsModule from "../api/metrics.ts";
import { addNodeRoutes } from "../api/node_routes.ts";
import { addP2PRoutes } from "../api/p2p_routes.ts";
import { Router } from "../api/router.ts";
import { isLoopback } from "../api/host_guard.ts";
import { ApiListenError, type ApiServer, parseHostPort, serveApi } from "../api/server.ts";
import type { ApiState } from "../api/state.ts";
import { readCounters } from "../api/counters.ts";
import { MetricsHistory } from "../api/history.ts";
import { PoolViews } from "../services/pool_views.ts";
import { type Network, startNetwork } from "../ledger/network.ts";
import type { P2PLibp2p } from "../node/create_node.ts";
import { loadOrCreateIdentity } from "../node/identity.ts";
import { fingerprint } from "../token/derive.ts";
import { decodeToken, generateToken } from "../token/token.ts";
import type { CliContext } from "./cli.ts";
import { UsageError } from "./errors.ts";
import { configureLogging } from "./logging.ts";
import {
  listenFailureOf,
  type NodeFlags,
  type ResolvedNodeFlags,
  resolveNodeFlags,
} from "./node_flags.ts";

const log = getLogger(["p2p", "cli"]);

/** What a long-running command adds on top of the node. */
export interface NodeCommandParts {
  /** Called before the node starts (register stream handlers). */
  beforeStart?: (node: P2PLibp2p) => void | Promise<void>;
  /**
   * Called once the network runs, with the API state to extend (federated stats, readiness)
   * and the router (extra routes); returns its own stop function and extra start-line fields.
   */
  run?: (
    network: Network,
    api: { state: ApiState; router: Router },
    flags: ResolvedNodeFlags,
  ) => Promise<{ stop?: () => Promise<void>; info?: Record<string, unknown> } | void>;
  /** Without a token: generate one (node, federated) instead of failing. */
  generateTokenIfMissing?: boolean;
}

/** Resolves once SIGINT or SIGTERM arrives, or when `signal` aborts. */
export function untilTerminated(signal?: AbortSignal): Promise<string> {
  return new Promise((resolve) => {
    const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
    const handlers = signals.map((name) => {
      const handler = (): void => finish(name);
      Deno.addSignalListener(name, handler);
      return [name, handler] as const;
    });
    const finish = (why: string): void => {
      for (const [name, handler] of handlers) Deno.removeSignalListener(name, handler);
      resolve(why);
    };
    signal?.addEventListener("abort", () => finish("abort"), { once: true });
  });
}

/**
 * Runs a node-based command: logging, flags, identity, token, the network, the API, the
 * start line on stdout, then waits for SIGINT/SIGTERM and stops everything cleanly.
 */
export async function runNodeCommand(
  role: string,
  rawFlags: NodeFlags,
  context: CliContext,
  parts: NodeCommandParts = {},
): Promise<void> {
  const flags = resolveNodeFlags(rawFlags, context.env);
  configureLogging({ level: flags.logLevel, format: flags.logFormat });
  checkApiFlags(flags);
  let generated: string | undefined;
  let token = flags.token;
  if (token === undefined) {
    if (!parts.generateTokenIfMissing) {
      throw new UsageError("Cannot start: no network token (--token or P2P_TOKEN)");
    }
    generated = generateToken();
    token = decodeToken(generated);
    context.io.stderr(
      `No token given: generated a new network (token fingerprint ${
        fingerprint(generated)
      }, printed as "token" on stdout).\nOther nodes join with: P2P_TOKEN=<token> p2p worker --target HOST:PORT\n`,
    );
  }
  const privateKey = flags.identityPath === undefined
    ? undefined
    : await loadOrCreateIdentity(flags.identityPath);
  // prom-client is loaded only by nodes that serve the API (its /metrics route).
  const metrics: typeof MetricsModule | undefined = flags.apiListen === undefined
    ? undefined
    : await import("../api/metrics.ts");
  const registry = metrics?.createMetricsRegistry();
  const network = await startNetwork({
    ...flags.node,
    token,
    ...(registry === undefined ? {} : { metricsRegistry: registry }),
    ...(privateKey === undefined ? {} : { privateKey }),
    ...(parts.beforeStart === undefined ? {} : { beforeStart: parts.beforeStart }),
  }).catch((err) => {
    throw listenFailureOf(err) ?? err;
  });
  const pools = new PoolViews(network);
  const stops: (() => Promise<void>)[] = [
    () => Promise.resolve(pools.stop()),
    () => network.stop(),
  ];
  try {
    const state: ApiState = {
      network,
      pools,
      networkId: flags.networkId,
      role,
      history: new MetricsHistory(),
      readiness: [],
    };
    const router = addNodeRoutes(new Router(), network);
    addP2PRoutes(router, state);
    addDashboardRoutes(router, state);
    if (metrics !== undefined && registry !== undefined) {
      metrics.registerP2PMetrics(registry, state);
      metrics.addMetricsRoute(router, registry);
    }
    const extra = (await parts.run?.(network, { state, router }, flags)) ?? {};
    if (extra.stop) stops.unshift(extra.stop);
    const api = startApi(flags, router);
    if (api) {
      // Sampled only when someone can read it, from the same counters /metrics reads.
      state.history.start(() => readCounters(state));
      stops.unshift(() => Promise.resolve(state.history.stop()));
      stops.unshift(() => api.shutdown());
    }
    context.io.stdout(`${
      JSON.stringify({
        peerId: network.peerId.toString(),
        addresses: network.node.getMultiaddrs().map(String),
        ...(api ? { api: `http://${api.address}` } : {}),
        ...extra.info,
        ...(generated ? { token: generated } : {}),
      })
    }\n`);
    const why = await untilTerminated();
    log.info("Stopping ({why})", { why });
  } finally {
    for (const stop of stops) {
      await stop().catch((err) =>
        log.warning("Error while stopping: {error}", { error: String(err) })
      );
    }
  }
}

/** Fails before anything starts when the API address cannot be used. */
function checkApiFlags(flags: ResolvedNodeFlags): void {
  if (flags.apiListen === undefined) return;
  const { hostname } = parseHostPort(flags.apiListen, "--api-listen");
  if (!isLoopback(hostname) && !flags.apiToken) {
    throw new ApiListenError(
      `Cannot serve the API on "${flags.apiListen}": a non-loopback address requires --api-token`,
    );
  }
}

function startApi(flags: ResolvedNodeFlags, router: Router): ApiServer | undefined {
  if (flags.apiListen === undefined) return undefined;
  return serveApi({
    listen: flags.apiListen,
    apiToken: flags.apiToken,
    allowedHosts: flags.apiAllowedHosts,
    handler: router.handle,
  });
}
