import { Command } from "@commander-js/extra-typings";
import { getLogger } from "@logtape/logtape";
import { addDashboardRoutes } from "../api/dashboard_routes.ts";
import type * as MetricsModule from "../api/metrics.ts";
import { addNodeRoutes } from "../api/node_routes.ts";
import { addP2PRoutes } from "../api/p2p_routes.ts";
import { Router } from "../api/router.ts";
import { type ApiServer, serveApi } from "../api/server.ts";
import type { Registry } from "prom-client";
import type { ApiState } from "../api/state.ts";
import { readCounters } from "../api/counters.ts";
import { MetricsHistory } from "../api/history.ts";
import { FederatedServer } from "../federated/server.ts";
import { type Network, startNetwork } from "../ledger/network.ts";
import { FEDERATED_POOL } from "../services/constants.ts";
import type { PoolView } from "../services/pool.ts";
import { PoolViews } from "../services/pool_views.ts";
import { startWorker } from "../services/worker.ts";
import { generateTokenConfig } from "../token/token.ts";
import type { CliContext } from "./cli.ts";
import { configureLogging } from "./logging.ts";
import { untilTerminated } from "./run_node.ts";

const log = getLogger(["p2p", "demo"]);
const WORKER_NAMES = ["alpha", "bravo", "charlie"] as const;

/** A tiny HTTP backend that answers with its name. */
function startBackend(name: string): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () => new Response(`hello from ${name}\n`, { headers: { "x-worker": name } }),
  );
}

/** `p2p demo`: a whole network on loopback — the README's first command. */
export function demoCommandOf(context: CliContext): Command {
  return new Command("demo")
    .description(
      "run a demo network on loopback: p2p federated on :8080, three workers, dashboard on :8090",
    )
    .option("--listen <host:port>", "where the balancer listens", "127.0.0.1:8080")
    .option("--api-listen <host:port>", "API and dashboard", "127.0.0.1:8090")
    .option("--log-level <level>", "log level", "info")
    .action(async (opts) => {
      configureLogging({ level: opts.logLevel, format: "text" });
      const token = generateTokenConfig();
      const loopback = { token, listen: ["/ip4/127.0.0.1/tcp/0"], mdns: false } as const;
      const stops: (() => Promise<void> | void)[] = [];
      const stopAll = async (): Promise<void> => {
        for (const stop of stops.reverse()) await Promise.resolve(stop()).catch(() => {});
      };
      try {
        // prom-client is loaded on demand (other commands without an API never load it).
        const metrics: typeof MetricsModule = await import("../api/metrics.ts");
        const registry = metrics.createMetricsRegistry();
        const seed = await startNetwork({
          ...loopback,
          bootstrapPeers: [],
          metricsRegistry: registry,
        });
        stops.push(() => seed.stop());
        const bootstrapPeers = seed.node.getMultiaddrs().map(String);
        const pools = new PoolViews(seed);
        stops.push(() => pools.stop());
        const server = new FederatedServer(seed, {
          listen: opts.listen,
          bucket: FEDERATED_POOL,
          strategy: "round-robin",
          view: pools.get(FEDERATED_POOL),
        });
        await server.start();
        stops.push(() => server.stop());
        for (const name of WORKER_NAMES) {
          const backend = startBackend(name);
          stops.push(() => backend.shutdown());
          const network: Network = await startNetwork({ ...loopback, bootstrapPeers });
          stops.push(() => network.stop());
          const worker = await startWorker(network, {
            target: `127.0.0.1:${backend.addr.port}`,
            name,
            hostname: "demo",
          });
          stops.push(() => worker.stop());
        }
        // The banner invites a curl at once: print it when the workers can answer it.
        await untilOnline(server.view, WORKER_NAMES.length, 15_000);
        const api = serveDemoApi(seed, pools, server, registry, opts.apiListen, metrics);
        stops.push(() => api.shutdown());
        context.io.stdout(demoBanner(server.address, api.address));
        log.info("Demo running; Ctrl-C stops it");
        await untilTerminated();
      } finally {
        await stopAll();
      }
    }) as unknown as Command;
}

/** Resolves once `count` workers of `view` are online, or after `timeoutMs` (with a warning). */
function untilOnline(view: PoolView, count: number, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      view.removeEventListener("change", check);
      resolve();
    };
    const check = (): void => {
      if (view.online().length >= count) done();
    };
    const timer = setTimeout(() => {
      log.warning("Only {online} of {count} workers online after {seconds} s", {
        online: view.online().length,
        count,
        seconds: timeoutMs / 1000,
      });
      done();
    }, timeoutMs);
    view.addEventListener("change", check);
    check();
  });
}

function serveDemoApi(
  seed: Network,
  pools: PoolViews,
  server: FederatedServer,
  registry: Registry,
  listen: string,
  metrics: typeof MetricsModule,
): ApiServer {
  const state: ApiState = {
    network: seed,
    pools,
    networkId: undefined,
    role: "federated (demo)",
    federated: () => server.stats(),
    history: new MetricsHistory(),
    readiness: [() => (server.view.online().length === 0 ? "no worker online" : undefined)],
  };
  metrics.registerP2PMetrics(registry, state);
  const router = addNodeRoutes(new Router(), seed);
  addP2PRoutes(router, state);
  addDashboardRoutes(router, state);
  metrics.addMetricsRoute(router, registry);
  const api = serveApi({ listen, handler: router.handle });
  state.history.start(() => readCounters(state));
  return {
    address: api.address,
    shutdown: () => {
      state.history.stop();
      return api.shutdown();
    },
  };
}

function demoBanner(balancer: string, api: string): string {
  return [
    "",
    "p2p demo: a federated balancer and three workers on loopback",
    "",
    `  try:       for i in 1 2 3 4 5 6; do curl -s http://${balancer}/; done`,
    `  dashboard: http://${api}/`,
    `  metrics:   curl -s http://${api}/metrics | grep ^p2p_`,
    `  LocalAI:   curl -s http://${api}/api/p2p`,
    "",
    "  Ctrl-C stops everything.",
    "",
  ].join("\n");
}
