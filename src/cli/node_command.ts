import type { Command } from "@commander-js/extra-typings";
import type { CliContext } from "./cli.ts";
import { nodeCommand } from "./node_flags.ts";
import { runNodeCommand } from "./run_node.ts";

/** `p2p node`: a node that joins the network and its ledger, until SIGINT/SIGTERM. */
export function nodeCommandOf(context: CliContext): Command {
  return nodeCommand(
    "node",
    "run a node: discovery, the sealed ledger, and the HTTP API with --api-listen",
  ).action(async (flags) => {
    await runNodeCommand("node", flags, context, {
      generateTokenIfMissing: true,
      openssl: "bulk",
    });
  }) as unknown as Command;
}
