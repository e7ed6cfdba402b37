import { Command } from "@commander-js/extra-typings";
import type { CliContext } from "./cli.ts";
import { firstEnv } from "./env.ts";
import { UsageError } from "./errors.ts";
import { NODE_ENV } from "./node_flags.ts";
import { resolveSecret } from "./secrets.ts";

/** A client command of a running node's API, with `--api`, `--api-token` and its file. */
// deno-lint-ignore explicit-module-boundary-types -- the inferred type carries the option types
export function apiClientCommand(name: string, description: string) {
  return new Command(name)
    .description(description)
    .option("--api <url>", "a running node's API (env: P2P_API)")
    .option("--api-token <token>", "bearer token of that API (env: P2P_API_TOKEN)")
    .option(
      "--api-token-file <file>",
      "file holding that bearer token (env: P2P_API_TOKEN_FILE)",
    );
}

/** The API URL and token from the flags, then `P2P_API` / `P2P_API_TOKEN[_FILE]`. */
export function resolveApiTarget(
  context: CliContext,
  opts: { api?: string; apiToken?: string; apiTokenFile?: string },
): { api: string; apiToken: string | undefined } {
  const api = opts.api ?? firstEnv(context.env, ["P2P_API"]);
  if (api === undefined) throw new UsageError("Cannot reach a node: no --api URL (or P2P_API)");
  const apiToken = resolveSecret({
    flag: "--api-token",
    value: opts.apiToken,
    fileFlag: "--api-token-file",
    file: opts.apiTokenFile,
    env: NODE_ENV.apiToken,
    fileEnv: NODE_ENV.apiTokenFile,
  }, context.env);
  return { api, apiToken: apiToken?.text };
}
