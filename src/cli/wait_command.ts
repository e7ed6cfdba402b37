import type { Command } from "@commander-js/extra-typings";
import { apiRequest, ApiRequestError } from "../api/client.ts";
import { apiClientCommand, resolveApiTarget } from "./api_client_flags.ts";
import type { CliContext } from "./cli.ts";
import { UsageError } from "./errors.ts";
import { parsePositiveInt } from "./node_flags.ts";

const POLL_INTERVAL_MS = 250;

/** What `p2p wait` waits for; every condition must hold at once. */
export interface WaitConditions {
  /** Proven members besides the node itself. */
  members: number;
  /** `/readyz` answers 200 (a federated node: a worker is online). */
  ready: boolean;
  /** At least `workers` online workers in this pool. */
  pool?: { name: string; workers: number };
  /** This ledger key exists. */
  key?: { bucket: string; key: string };
}

/** The node is not there yet, or a condition does not hold: what is missing. */
type Progress = { done: true } | { done: false; missing: string };

/**
 * `p2p wait --api URL [--members N] [--ready] [--pool P --workers N] [--key BUCKET/KEY]`: blocks
 * until a node's API answers and every condition holds, for scripts that start nodes in the
 * background (exit 0), or gives up after `--timeout` seconds naming what is missing (exit 1).
 */
export function waitCommandOf(context: CliContext): Command {
  return apiClientCommand(
    "wait",
    "wait until a running node's API answers and the conditions hold",
  )
    .option("--members <n>", "proven members besides the node", "0")
    .option("--ready", "until /readyz answers 200 (federated: a worker is online)")
    .option("--pool <pool>", "a pool whose workers to count (with --workers)")
    .option("--workers <n>", "online workers in --pool", "1")
    .option("--key <bucket/key>", "until this ledger key exists")
    .option("--timeout <seconds>", "give up after this long", "30")
    .action(async (opts) => {
      const { api, apiToken } = resolveApiTarget(context, opts);
      const conditions: WaitConditions = {
        members: parseCount("--members", opts.members),
        ready: opts.ready === true,
        ...(opts.pool === undefined
          ? {}
          : { pool: { name: opts.pool, workers: parsePositiveInt("--workers", opts.workers) } }),
        ...(opts.key === undefined ? {} : { key: parseKey(opts.key) }),
      };
      const timeoutMs = parsePositiveInt("--timeout", opts.timeout) * 1000;
      await waitFor(api, apiToken, conditions, timeoutMs);
    }) as unknown as Command;
}

async function waitFor(
  api: string,
  apiToken: string | undefined,
  conditions: WaitConditions,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let missing = `an answer from ${api}`;
  while (Date.now() < deadline) {
    const progress = await check(api, apiToken, conditions);
    if (progress.done) return;
    missing = progress.missing;
    await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
  }
  throw new UsageError(`Timed out after ${timeoutMs / 1000} s waiting for ${missing}`);
}

async function check(
  api: string,
  apiToken: string | undefined,
  conditions: WaitConditions,
): Promise<Progress> {
  const get = (path: string) => apiRequest(api, path, { apiToken, timeoutMs: 2_000 });
  try {
    const node = await get("api/node") as { members?: number };
    const members = node.members ?? 0;
    if (members < conditions.members) {
      return { done: false, missing: `${conditions.members} members (${members} so far)` };
    }
    if (conditions.ready) {
      const ready = await readiness(api, apiToken);
      if (ready !== undefined) return { done: false, missing: `readiness (${ready})` };
    }
    if (conditions.pool !== undefined) {
      const { name, workers } = conditions.pool;
      const pool = await get(`api/pools/${encodeURIComponent(name)}`) as {
        workers: { online: boolean }[];
      };
      const online = pool.workers.filter((w) => w.online).length;
      if (online < workers) {
        return {
          done: false,
          missing: `${workers} online workers in pool "${name}" (${online} so far)`,
        };
      }
    }
    if (conditions.key !== undefined) {
      const { bucket, key } = conditions.key;
      const path = `api/ledger/${encodeURIComponent(bucket)}/${encodeURIComponent(key)}`;
      if (!await exists(get, path)) {
        return { done: false, missing: `the ledger key "${key}" in bucket "${bucket}"` };
      }
    }
    return { done: true };
  } catch (err) {
    // Not up yet: keep waiting. Refused credentials or a bad URL will not get better.
    if (err instanceof ApiRequestError && (err.status === undefined || err.status >= 500)) {
      return { done: false, missing: `an answer from ${api} (${err.message})` };
    }
    throw err;
  }
}

async function readiness(api: string, apiToken: string | undefined): Promise<string | undefined> {
  try {
    await apiRequest(api, "readyz", { apiToken, timeoutMs: 2_000 });
    return undefined;
  } catch (err) {
    if (err instanceof ApiRequestError && err.status === 503) return err.message;
    throw err;
  }
}

async function exists(get: (path: string) => Promise<unknown>, path: string): Promise<boolean> {
  try {
    await get(path);
    return true;
  } catch (err) {
    if (err instanceof ApiRequestError && err.status === 404) return false;
    throw err;
  }
}

function parseCount(flag: string, text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n)) {
    throw new UsageError(`Cannot use ${flag} "${text}": not a whole number`);
  }
  return n;
}

function parseKey(text: string): { bucket: string; key: string } {
  const slash = text.indexOf("/");
  if (slash <= 0 || slash === text.length - 1) {
    throw new UsageError(`Cannot use --key "${text}": not BUCKET/KEY`);
  }
  return { bucket: text.slice(0, slash), key: text.slice(slash + 1) };
}
