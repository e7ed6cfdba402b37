import { Command } from "@commander-js/extra-typings";
import type { CliContext } from "./cli.ts";
import { firstEnv } from "./env.ts";
import { UsageError } from "./errors.ts";

/** A client command of a running node's API, with `--api` and `--api-token`. */
// deno-lint-ignore explicit-module-boundary-types -- the inferred type carries the option types
export function apiClientCommand(name: string, description: string) {
  return new Command(name)
    .description(description)
    .option("--api <url>", "a running node's API (env: P2P_API)")
    .option("--api-token <token>", "bearer token of that API (env: P2P_API_TOKEN)");
}

/** The API URL and token from the flags, then `P2P_API` / `P2P_API_TOKEN`. */
export function resolveApiTarget(
  context: CliContext,
  opts: { api?: string; apiToken?: string },
): { api: string; apiToken: string | undefined } {
  const api = opts.api ?? firstEnv(context.env, ["P2P_API"]);
  if (api === undefined) throw new UsageError("Cannot reach a node: no --api URL (or P2P_API)");
  return { api, apiToken: opts.apiToken ?? firstEnv(context.env, ["P2P_API_TOKEN"]) };
}
