import { Command } from "@commander-js/extra-typings";
import { apiRequest } from "../api/client.ts";
import { apiClientCommand as apiCommand, resolveApiTarget } from "./api_client_flags.ts";
import type { CliContext } from "./cli.ts";
import { UsageError } from "./errors.ts";

/** `p2p ledger get|put|delete|list`: the ledger through a running node's API. */
export function ledgerCommandOf(context: CliContext): Command {
  const resolve = (opts: { api?: string; apiToken?: string; apiTokenFile?: string }) =>
    resolveApiTarget(context, opts);
  const print = (value: unknown): void => context.io.stdout(`${JSON.stringify(value, null, 2)}\n`);
  const path = (...parts: string[]): string => `api/ledger/${parts.map(pathSegment).join("/")}`;

  const ledger = new Command("ledger").description("read and write the ledger of a running node");
  ledger.addCommand(
    apiCommand("list", "print all buckets, or the keys of one")
      .argument("[bucket]")
      .action(async (bucket, opts) => {
        const { api, apiToken } = resolve(opts);
        const body = await apiRequest(api, bucket === undefined ? "api/ledger" : path(bucket), {
          apiToken,
        });
        print(bucket === undefined ? body : Object.keys(body as Record<string, unknown>));
      }),
  );
  ledger.addCommand(
    apiCommand("get", "print a bucket, or one key's value")
      .argument("<bucket>")
      .argument("[key]")
      .action(async (bucket, key, opts) => {
        const { api, apiToken } = resolve(opts);
        const target = key === undefined ? path(bucket) : path(bucket, key);
        print(await apiRequest(api, target, { apiToken }));
      }),
  );
  ledger.addCommand(
    apiCommand("put", "write a JSON value; the node keeps it announced")
      .argument("<bucket>")
      .argument("<key>")
      .argument("<json>", "the value, as JSON (a bare word is taken as a string)")
      .action(async (bucket, key, text, opts) => {
        const { api, apiToken } = resolve(opts);
        print(
          await apiRequest(api, path(bucket, key), {
            method: "PUT",
            body: parseValue(text),
            apiToken,
          }),
        );
      }),
  );
  ledger.addCommand(
    apiCommand("delete", "delete a key")
      .argument("<bucket>")
      .argument("<key>")
      .action(async (bucket, key, opts) => {
        const { api, apiToken } = resolve(opts);
        print(await apiRequest(api, path(bucket, key), { method: "DELETE", apiToken }));
      }),
  );
  return ledger as unknown as Command;
}

function parseValue(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * One bucket or key as a URL path segment. "." and ".." (even percent-encoded) are dot
 * segments that URL resolution removes, so they would address another route.
 */
function pathSegment(name: string): string {
  if (name === "." || name === "..") {
    throw new UsageError(
      `Cannot use "${name}" as a bucket or key name: it cannot be sent in a URL path`,
    );
  }
  return encodeURIComponent(name);
}
