import type { Command } from "@commander-js/extra-typings";
import { getLogger } from "@logtape/logtape";
import { WORKER_POOL } from "../services/constants.ts";
import { PoolTunnels } from "../services/discover.ts";
import { poolBucket } from "../services/records.ts";
import type { CliContext } from "./cli.ts";
import { nodeCommand } from "./node_flags.ts";
import { runNodeCommand } from "./run_node.ts";
import { Supervisor } from "./supervisor.ts";

const log = getLogger(["p2p", "discover"]);

/** Changes closer together than this are applied once (one restart of `--exec`). */
const DEBOUNCE_MS = 300;

/** Writes `text` to `path` atomically: a temporary file in the same folder, then rename. */
export async function writeFileAtomic(path: string, text: string): Promise<void> {
  const temporary = `${path}.${crypto.randomUUID()}.tmp`;
  try {
    await Deno.writeTextFile(temporary, text);
    await Deno.rename(temporary, path);
  } catch (err) {
    await Deno.remove(temporary).catch(() => {});
    throw err;
  }
}

/** `p2p discover --pool worker [--env-var V] [--output FILE] [--exec CMD]`. */
export function discoverCommandOf(context: CliContext): Command {
  return nodeCommand(
    "discover",
    "one local tunnel per online worker of a pool; prints the comma list at each change",
  )
    .option("--pool <pool>", "the pool", WORKER_POOL)
    .option("--env-var <name>", "variable set for --exec", "LLAMACPP_GRPC_SERVERS")
    .option("--output <file>", "write the list to FILE (atomically) at each change")
    .option("--exec <command>", "shell command run with the variable set; restarted on change")
    .action(async (flags) => {
      await runNodeCommand("discover", flags, context, {
        run: async (network) => {
          const tunnels = new PoolTunnels(network, {
            bucket: poolBucket(flags.pool, network.networkId),
          });
          const supervisor = flags.exec === undefined
            ? undefined
            : new Supervisor(flags.exec, flags.envVar);
          let last: string | undefined;
          let timer: ReturnType<typeof setTimeout> | undefined;
          const apply = async (): Promise<void> => {
            const list = tunnels.addressList();
            // Nothing to report (or run) until a worker is online: no blank first line.
            if (list === last || (last === undefined && list === "")) return;
            last = list;
            context.io.stdout(`${list}\n`);
            if (flags.output !== undefined) {
              await writeFileAtomic(flags.output, `${list}\n`).catch((err) =>
                log.error("Cannot write {file}: {error}", {
                  file: flags.output,
                  error: String(err),
                })
              );
            }
            await supervisor?.restart(list);
          };
          tunnels.addEventListener("change", () => {
            clearTimeout(timer);
            timer = setTimeout(() => void apply(), DEBOUNCE_MS);
          });
          await network.add(tunnels);
          await network.adopt({
            stop: async () => {
              clearTimeout(timer);
              await supervisor?.stop();
            },
          });
          await apply();
          return { pool: tunnels.view.bucket };
        },
      });
    }) as unknown as Command;
}
