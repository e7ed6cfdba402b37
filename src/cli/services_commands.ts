import type { Command } from "@commander-js/extra-typings";
import { FEDERATED_POOL } from "../services/constants.ts";
import { parseTarget } from "../services/target.ts";
import type { CliContext } from "./cli.ts";
import { firstEnv } from "./env.ts";
import { nodeCommand, parsePositiveInt } from "./node_flags.ts";
import { runNodeCommand } from "./run_node.ts";

/** `p2p expose --target HOST:PORT --service NAME`. */
export function exposeCommandOf(context: CliContext): Command {
  return nodeCommand("expose", "make a local TCP service reachable by network members")
    .requiredOption("--target <host:port>", "the local service")
    .requiredOption("--service <name>", "the name it is registered under")
    .action(async (flags) => {
      // Bad input fails before the node starts (and before any log line).
      parseTarget(flags.target, "--target");
      await runNodeCommand("expose", flags, context, {
        run: async (network) => {
          const { exposeService } = await import("../services/expose.ts");
          await exposeService(network, { target: flags.target, service: flags.service });
          return { service: flags.service };
        },
      });
    }) as unknown as Command;
}

/** `p2p connect --service NAME [--listen ADDR] [--wait S]`. */
export function connectCommandOf(context: CliContext): Command {
  return nodeCommand("connect", "open a local port that tunnels to a named service")
    .requiredOption("--service <name>", "the service to reach")
    .option("--listen <host:port>", "local address (port 0 picks one)", "127.0.0.1:0")
    .option("--wait <seconds>", "how long a connection waits for an unknown service", "10")
    .action(async (flags) => {
      const waitS = parsePositiveInt("--wait", flags.wait);
      parseTarget(flags.listen, "--listen", "127.0.0.1");
      await runNodeCommand("connect", flags, context, {
        run: async (network) => {
          const { connectService } = await import("../services/connect.ts");
          const connected = await connectService(network, {
            service: flags.service,
            listen: flags.listen,
            waitMs: waitS * 1000,
          });
          return { service: flags.service, listen: connected.address };
        },
      });
    }) as unknown as Command;
}

/** `p2p worker --target HOST:PORT [--pool federated] [--name NAME]`. */
export function workerCommandOf(context: CliContext): Command {
  return nodeCommand("worker", "register a backend as a worker of a pool and serve its tunnels")
    .requiredOption("--target <host:port>", "the backend this worker serves")
    .option(
      "--pool <pool>",
      "pool: federated, worker (llama.cpp RPC), mlx_worker, or any name",
      FEDERATED_POOL,
    )
    .option("--name <name>", "worker name (default: derived from host name and target)")
    .action(async (flags) => {
      parseTarget(flags.target, "--target");
      await runNodeCommand("worker", flags, context, {
        run: async (network) => {
          const { startWorker } = await import("../services/worker.ts");
          const worker = await startWorker(network, {
            target: flags.target,
            pool: flags.pool,
            name: flags.name ?? firstEnv(context.env, ["P2P_WORKER_NAME"]),
          });
          return { worker: { name: worker.name, id: worker.id, bucket: worker.bucket } };
        },
      });
    }) as unknown as Command;
}
