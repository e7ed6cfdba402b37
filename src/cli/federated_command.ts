import { type Command, Option } from "@commander-js/extra-typings";
import { STRATEGIES } from "../federated/constants.ts";
import { FederatedServer } from "../federated/server.ts";
import { FEDERATED_POOL } from "../services/constants.ts";
import { poolBucket } from "../services/records.ts";
import { parseTarget } from "../services/target.ts";
import type { CliContext } from "./cli.ts";
import { firstEnv } from "./env.ts";
import { nodeCommand, parsePositiveInt } from "./node_flags.ts";
import { runNodeCommand } from "./run_node.ts";

/** `p2p federated --listen ADDR …`: the load balancer over a pool's workers. */
export function federatedCommandOf(context: CliContext): Command {
  return nodeCommand(
    "federated",
    "load-balance TCP connections over the online workers of a pool",
    "concurrent client connections; more are refused (default: 1024)",
  )
    .option(
      "--listen <host:port>",
      "where clients connect (env: P2P_LISTEN, LOCALAI_ADDRESS, ADDRESS)",
    )
    .option("--pool <pool>", "the pool", FEDERATED_POOL)
    .addOption(
      new Option("--strategy <strategy>", "how a worker is picked")
        .choices(STRATEGIES)
        .default("least-connections" as const),
    )
    .option(
      "--target-worker <id>",
      "send every connection to this worker (env: P2P_TARGET_WORKER, LOCALAI_TARGET_WORKER, TARGET_WORKER)",
    )
    .option(
      "--connect-timeout <ms>",
      "bound on opening a tunnel before trying the next worker",
      "3000",
    )
    .option("--drain-timeout <seconds>", "time open connections get to finish on SIGTERM", "10")
    .action(async (flags) => {
      const listen = flags.listen ??
        firstEnv(context.env, ["P2P_LISTEN", "LOCALAI_ADDRESS", "ADDRESS"]) ?? ":8080";
      // Bad input fails before the node starts (and before any log line).
      parseTarget(listen, "--listen");
      const connectTimeoutMs = parsePositiveInt("--connect-timeout", flags.connectTimeout);
      const drainTimeoutS = parsePositiveInt("--drain-timeout", flags.drainTimeout);
      const maxConnections = flags.maxConnections === undefined
        ? undefined
        : parsePositiveInt("--max-connections", flags.maxConnections);
      const targetWorker = flags.targetWorker ??
        firstEnv(context.env, ["P2P_TARGET_WORKER", "LOCALAI_TARGET_WORKER", "TARGET_WORKER"]);
      // --max-connections is the client cap here; libp2p keeps its default peer cap.
      const { maxConnections: _clientCap, ...nodeFlags } = flags;
      await runNodeCommand("federated", nodeFlags, context, {
        generateTokenIfMissing: true,
        run: async (network, { state }, resolved) => {
          const bucket = poolBucket(flags.pool, resolved.networkId);
          const server = new FederatedServer(network, {
            listen,
            bucket,
            view: state.pools.get(bucket),
            strategy: flags.strategy,
            targetWorker,
            connectTimeoutMs,
            drainTimeoutS,
            ...(maxConnections === undefined ? {} : { maxConnections }),
          });
          await server.start();
          state.federated = () => server.stats();
          state.readiness.push(() =>
            server.view.online().length === 0 ? `no worker online in ${bucket}` : undefined
          );
          return {
            stop: () => server.stop(),
            info: { listen: server.address, pool: server.view.bucket },
          };
        },
      });
    }) as unknown as Command;
}
