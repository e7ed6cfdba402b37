import { Command } from "@commander-js/extra-typings";
import { getLogger } from "@logtape/logtape";
import type { Network } from "../network/network.ts";
import type { PoolView } from "../services/pool.ts";
import { generateToken } from "../token/token.ts";
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
      const token = generateToken();
      const loopback = { token, listen: ["/ip4/127.0.0.1/tcp/0"], mdns: false } as const;
      const networks: Network[] = [];
      const backends: Deno.HttpServer[] = [];
      // Loaded by this command only (see run_node.ts).
      const [{ startApi }, { startFederated }, { startNetwork }, { startWorker }] = await Promise
        .all([
          import("../api/start_api.ts"),
          import("../federated/server.ts"),
          import("../network/network.ts"),
          import("../services/worker.ts"),
        ]);
      try {
        const seed = await startNetwork({ ...loopback, bootstrapPeers: [], metrics: true });
        networks.push(seed);
        const server = await startFederated(seed, { listen: opts.listen, strategy: "round-robin" });
        for (const name of WORKER_NAMES) {
          const backend = startBackend(name);
          backends.push(backend);
          const network = await startNetwork({ ...loopback, bootstrapPeers: seed.addresses() });
          networks.push(network);
          await startWorker(network, {
            target: `127.0.0.1:${backend.addr.port}`,
            name,
            hostname: "demo",
          });
        }
        // The banner invites a curl at once: print it when the workers can answer it.
        await untilOnline(server.view, WORKER_NAMES.length, 15_000);
        const api = await startApi(seed, { listen: opts.apiListen, role: "federated (demo)" });
        context.io.stdout(demoBanner(server.address, api.address));
        log.info("Demo running; Ctrl-C stops it");
        await untilTerminated();
      } finally {
        for (const network of networks.reverse()) await network.stop().catch(() => {});
        for (const backend of backends) await backend.shutdown().catch(() => {});
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
