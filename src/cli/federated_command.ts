import { type Command, Option } from "@commander-js/extra-typings";
import { DEFAULT_IDLE_TIMEOUT_S, STRATEGIES } from "../federated/constants.ts";
import { FEDERATED_POOL, MAX_SERVICE_STREAMS } from "../services/constants.ts";
import { parseTarget } from "../services/target.ts";
import type { CliContext } from "./cli.ts";
import { envFlag, firstEnv } from "./env.ts";
import { UsageError } from "./errors.ts";
import { nodeCommand, parsePositiveInt } from "./node_flags.ts";
import { runNodeCommand } from "./run_node.ts";

/** `p2p federated --listen ADDR …`: the load balancer over a pool's workers. */
export function federatedCommandOf(context: CliContext): Command {
  return nodeCommand(
    "federated",
    "load-balance TCP connections over the online workers of a pool",
    `client connections with a tunnel at once, at most ${MAX_SERVICE_STREAMS}; more are refused (default: 1024)`,
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
    .option(
      "--open-on-accept",
      "open the tunnel when a client connects, for protocols where the server speaks first (SSH, SMTP, MySQL); by default it opens on the client's first byte (env: P2P_OPEN_ON_ACCEPT=true)",
    )
    .option(
      "--confirm-first",
      "send nothing of a client's to a worker before it confirmed it reached its target (a request never reaches two backends, at one round trip more per connection) (env: P2P_CONFIRM_FIRST=true)",
    )
    .option(
      "--idle-timeout <seconds>",
      `close a client connection after this long without a byte either way (default: ${DEFAULT_IDLE_TIMEOUT_S}) (env: P2P_IDLE_TIMEOUT)`,
    )
    .action(async (flags) => {
      const listen = flags.listen ??
        firstEnv(context.env, ["P2P_LISTEN", "LOCALAI_ADDRESS", "ADDRESS"]) ?? ":8080";
      // Bad input fails before the node starts (and before any log line).
      parseTarget(listen, "--listen");
      const connectTimeoutMs = parsePositiveInt("--connect-timeout", flags.connectTimeout);
      const drainTimeoutS = parsePositiveInt("--drain-timeout", flags.drainTimeout);
      const idleTimeoutS = parsePositiveInt(
        "--idle-timeout",
        flags.idleTimeout ?? firstEnv(context.env, ["P2P_IDLE_TIMEOUT"]) ??
          String(DEFAULT_IDLE_TIMEOUT_S),
      );
      const openOnAccept = flags.openOnAccept === true ||
        envFlag(context.env, ["P2P_OPEN_ON_ACCEPT"]);
      const confirmFirst = flags.confirmFirst === true ||
        envFlag(context.env, ["P2P_CONFIRM_FIRST"]);
      const maxConnections = flags.maxConnections === undefined
        ? undefined
        : parsePositiveInt("--max-connections", flags.maxConnections);
      // Each tunnel is a stream on a worker's connection: more than one connection carries
      // would be refused by the worker's muxer, not by us.
      if (maxConnections !== undefined && maxConnections > MAX_SERVICE_STREAMS) {
        throw new UsageError(
          `Cannot use --max-connections "${flags.maxConnections}": above ${MAX_SERVICE_STREAMS}, the tunnels one worker connection carries`,
        );
      }
      const targetWorker = flags.targetWorker ??
        firstEnv(context.env, ["P2P_TARGET_WORKER", "LOCALAI_TARGET_WORKER", "TARGET_WORKER"]);
      // --max-connections is the client cap here; libp2p keeps its default peer cap.
      const { maxConnections: _clientCap, ...nodeFlags } = flags;
      await runNodeCommand("federated", nodeFlags, context, {
        generateTokenIfMissing: true,
        run: async (network) => {
          const { startFederated } = await import("../federated/server.ts");
          const server = await startFederated(network, {
            listen,
            pool: flags.pool,
            strategy: flags.strategy,
            targetWorker,
            connectTimeoutMs,
            drainTimeoutS,
            idleTimeoutS,
            openOnAccept,
            confirmFirst,
            ...(maxConnections === undefined ? {} : { maxConnections }),
          });
          return { listen: server.address, pool: server.view.bucket };
        },
      });
    }) as unknown as Command;
}
