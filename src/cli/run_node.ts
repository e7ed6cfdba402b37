import { getLogger } from "@logtape/logtape";
import { isLoopback } from "../api/host_guard.ts";
import { ApiListenError } from "../api/server.ts";
import { parseTarget } from "../services/target.ts";
import type { Network } from "../network/network.ts";
import type { NodeOptions, P2PLibp2p } from "../node/create_node.ts";
import { tuningFromEnv } from "../node/tuning.ts";
import { fingerprint } from "../token/derive.ts";
import { generateToken } from "../token/token.ts";
import type { CliContext } from "./cli.ts";
import { UsageError } from "./errors.ts";
import { startHeapTrim } from "./heap_collector.ts";
import { configureLogging } from "./logging.ts";
import {
  listenFailureOf,
  type NodeFlags,
  type ResolvedNodeFlags,
  resolveNodeFlags,
} from "./node_flags.ts";

const log = getLogger(["p2p", "cli"]);

/** What a long-running command adds on top of the node. */
export interface NodeCommandParts {
  /** Called before the node starts (register stream handlers). */
  beforeStart?: (node: P2PLibp2p) => void | Promise<void>;
  /**
   * Called once the network runs: adds the command's components to it (they stop with it)
   * and returns extra start-line fields.
   */
  run?: (
    network: Network,
    flags: ResolvedNodeFlags,
  ) => Promise<Record<string, unknown> | void>;
  /** Without a token: generate one (node, federated) instead of failing. */
  generateTokenIfMissing?: boolean;
  /**
   * When the node loads OpenSSL's cipher (`NodeOptions.openssl`): `p2p node`, which carries
   * no tunnels of its own, passes `"bulk"`. @default {"start"}
   */
  openssl?: NodeOptions["openssl"];
}

/** Resolves once SIGINT or SIGTERM arrives, or when `signal` aborts. */
export function untilTerminated(signal?: AbortSignal): Promise<string> {
  return new Promise((resolve) => {
    const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
    const handlers = signals.map((name) => {
      const handler = (): void => finish(name);
      Deno.addSignalListener(name, handler);
      return [name, handler] as const;
    });
    const finish = (why: string): void => {
      for (const [name, handler] of handlers) Deno.removeSignalListener(name, handler);
      resolve(why);
    };
    signal?.addEventListener("abort", () => finish("abort"), { once: true });
  });
}

/**
 * Runs a node-based command: logging, flags, identity, token, the network, the API, the
 * start line on stdout, then waits for SIGINT/SIGTERM and stops everything cleanly.
 */
export async function runNodeCommand(
  role: string,
  rawFlags: NodeFlags,
  context: CliContext,
  parts: NodeCommandParts = {},
): Promise<void> {
  const flags = resolveNodeFlags(rawFlags, context.env);
  configureLogging({ level: flags.logLevel, format: flags.logFormat });
  checkApiFlags(flags);
  let generated: string | undefined;
  let token = flags.tokenText;
  if (token === undefined) {
    if (!parts.generateTokenIfMissing) {
      throw new UsageError("Cannot start: no network token (--token or P2P_TOKEN)");
    }
    generated = generateToken();
    token = generated;
    context.io.stderr(
      `No token given: generated a new network (token fingerprint ${
        fingerprint(generated)
      }, printed as "token" on stdout).\nOther nodes join with: P2P_TOKEN=<token> p2p worker --target HOST:PORT\n`,
    );
  }
  // Loaded here, not at start-up: commands that run no node (token, ledger, wait…) never
  // load libp2p, and a node loads the API's modules only when it serves one.
  const { startNetwork } = await import("../network/network.ts");
  const network = await startNetwork({
    ...flags.node,
    token,
    networkId: flags.networkId,
    // prom-client is loaded only by nodes that serve the API (its /metrics route).
    metrics: flags.apiListen !== undefined,
    identity: flags.identityPath,
    ...(parts.openssl === undefined ? {} : { openssl: parts.openssl }),
    ...(parts.beforeStart === undefined ? {} : { beforeStart: parts.beforeStart }),
  }).catch((err) => {
    throw listenFailureOf(err) ?? err;
  });
  let stopTrimming = (): void => {};
  try {
    const info = (await parts.run?.(network, flags)) ?? {};
    const api = flags.apiListen === undefined ? undefined : await (
      await import("../api/start_api.ts")
    ).startApi(network, {
      listen: flags.apiListen,
      apiToken: flags.apiToken,
      allowedHosts: flags.apiAllowedHosts,
      role,
    });
    context.io.stdout(`${
      JSON.stringify({
        peerId: network.peerId.toString(),
        addresses: network.addresses(),
        ...(api ? { api: `http://${api.address}` } : {}),
        ...info,
        ...(generated ? { token: generated } : {}),
      })
    }\n`);
    stopTrimming = startHeapTrim(tuningFromEnv().heap);
    const why = await untilTerminated();
    log.info("Stopping ({why})", { why });
  } finally {
    stopTrimming();
    await network.stop().catch((err) =>
      log.warning("Error while stopping: {error}", { error: String(err) })
    );
  }
}

/** Fails before anything starts when the API address cannot be used. */
function checkApiFlags(flags: ResolvedNodeFlags): void {
  if (flags.apiListen === undefined) return;
  const { hostname } = parseTarget(flags.apiListen, "--api-listen", "127.0.0.1");
  if (!isLoopback(hostname) && !flags.apiToken) {
    throw new ApiListenError(
      `Cannot serve the API on "${flags.apiListen}": a non-loopback address requires --api-token`,
    );
  }
}
