import type { Command } from "@commander-js/extra-typings";
import { apiRequest } from "../api/client.ts";
import { apiClientCommand, resolveApiTarget as resolveApi } from "./api_client_flags.ts";
import type { CliContext } from "./cli.ts";
import { parsePositiveInt } from "./node_flags.ts";

/** `p2p peers --api URL`: the peers a running node is connected to. */
export function peersCommandOf(context: CliContext): Command {
  return apiClientCommand("peers", "print the peers a running node is connected to (JSON)")
    .action(async (opts) => {
      const { api, apiToken } = resolveApi(context, opts);
      const peers = await apiRequest(api, "api/peers", { apiToken });
      context.io.stdout(`${JSON.stringify(peers, null, 2)}\n`);
    }) as unknown as Command;
}

/** `p2p ping PEER --api URL [--count N]`: round trips from a running node to a peer. */
export function pingCommandOf(context: CliContext): Command {
  return apiClientCommand("ping", "ping a peer from a running node; one line per round trip")
    .argument("<peer>", "the peer ID")
    .option("--count <n>", "how many pings", "3")
    .action(async (peer, opts) => {
      const count = parsePositiveInt("--count", opts.count);
      const { api, apiToken } = resolveApi(context, opts);
      for (let i = 1; i <= count; i++) {
        const answer = await apiRequest(api, `api/ping/${encodeURIComponent(peer)}`, {
          apiToken,
        }) as { rttMs: number };
        context.io.stdout(`${peer}: seq=${i} time=${answer.rttMs.toFixed(2)} ms\n`);
      }
    }) as unknown as Command;
}
