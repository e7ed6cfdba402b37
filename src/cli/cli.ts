import { Command } from "@commander-js/extra-typings";
import { VERSION } from "../node/version.ts";
import type { EnvReader } from "./env.ts";
import type { CliIo } from "./io.ts";
import { demoCommandOf } from "./demo_command.ts";
import { discoverCommandOf } from "./discover_command.ts";
import { federatedCommandOf } from "./federated_command.ts";
import { ledgerCommandOf } from "./ledger_command.ts";
import { peersCommandOf, pingCommandOf } from "./peers_command.ts";
import { connectCommandOf, exposeCommandOf, workerCommandOf } from "./services_commands.ts";
import { nodeCommandOf } from "./node_command.ts";
import { tokenCommand } from "./token_command.ts";
import { waitCommandOf } from "./wait_command.ts";

/** What the CLI needs from the outside world; tests inject their own. */
export interface CliContext {
  io: CliIo;
  env: EnvReader;
}

/**
 * Builds the `p2p` command tree. Commander's own errors (unknown flag, missing value) are
 * thrown as `CommanderError` instead of exiting, so the boundary in `main.ts` decides.
 */
export function buildCli(context: CliContext): Command {
  const program = new Command("p2p")
    .description(
      "Private peer-to-peer networks of services, compatible with LocalAI/edgevpn: tokens, nodes, tunnels, workers and a federated load balancer",
    )
    .version(VERSION, "-V, --version")
    .exitOverride()
    .showHelpAfterError("(run with --help for usage)")
    .configureOutput({
      writeOut: (text) => context.io.stdout(text),
      writeErr: (text) => context.io.stderr(text),
    });
  program.addCommand(tokenCommand(context.io, context.env));
  program.addCommand(nodeCommandOf(context));
  program.addCommand(ledgerCommandOf(context));
  program.addCommand(peersCommandOf(context));
  program.addCommand(pingCommandOf(context));
  program.addCommand(waitCommandOf(context));
  program.addCommand(exposeCommandOf(context));
  program.addCommand(connectCommandOf(context));
  program.addCommand(workerCommandOf(context));
  program.addCommand(discoverCommandOf(context));
  program.addCommand(federatedCommandOf(context));
  program.addCommand(demoCommandOf(context));
  return program as unknown as Command;
}
