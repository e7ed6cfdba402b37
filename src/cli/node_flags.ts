import { Command, Option } from "@commander-js/extra-typings";
import { multiaddr } from "@multiformats/multiaddr";
import { parseAllowedHosts } from "../api/host_guard.ts";
import type { NodeOptions } from "../node/create_node.ts";
import { InvalidTokenError } from "../token/errors.ts";
import { decodeToken } from "../token/token.ts";
import type { NetworkToken } from "../token/token.ts";
import { envFlag, type EnvReader, firstEnv } from "./env.ts";
import { UsageError } from "./errors.ts";
import { parseLogFormat, parseLogLevel } from "./logging.ts";
import { addNatFlags, type NatFlags, resolveNatFlags } from "./nat_flags.ts";
import { resolveSecret, type Secret } from "./secrets.ts";

/** Environment names of each common flag, P2P_* first, LocalAI's aliases after. */
export const NODE_ENV = {
  token: ["P2P_TOKEN", "LOCALAI_P2P_TOKEN", "TOKEN"],
  tokenFile: ["P2P_TOKEN_FILE"],
  listenMaddrs: ["P2P_LISTEN_MADDRS", "LOCALAI_P2P_LISTEN_MADDRS"],
  bootstrapPeers: ["P2P_BOOTSTRAP_PEERS", "LOCALAI_P2P_BOOTSTRAP_PEERS_MADDRS"],
  noDht: ["P2P_DISABLE_DHT", "LOCALAI_P2P_DISABLE_DHT"],
  noMdns: ["P2P_DISABLE_MDNS"],
  networkId: ["P2P_NETWORK_ID", "LOCALAI_P2P_NETWORK_ID"],
  identity: ["P2P_IDENTITY"],
  apiListen: ["P2P_API_LISTEN"],
  apiToken: ["P2P_API_TOKEN"],
  apiTokenFile: ["P2P_API_TOKEN_FILE"],
  apiAllowedHosts: ["P2P_API_ALLOWED_HOSTS"],
  logLevel: ["P2P_LOG_LEVEL", "LOCALAI_P2P_LOGLEVEL"],
  logFormat: ["P2P_LOG_FORMAT"],
  private: ["P2P_PRIVATE"],
  maxConnections: ["P2P_MAX_CONNECTIONS"],
} as const;

function envHelp(names: readonly string[]): string {
  return `(env: ${names.join(", ")})`;
}

/**
 * A command with the common flags of every node-running command (DESIGN.md "Common flags").
 * Defaults are applied by {@linkcode resolveNodeFlags}, after the environment aliases.
 */
// deno-lint-ignore explicit-module-boundary-types -- the inferred type carries every option's type
export function nodeCommand(
  name: string,
  description: string,
  maxConnectionsHelp = "cap on open libp2p connections (default: 300)",
) {
  return withNat(
    new Command(name)
      .description(description)
      .option(
        "--token <token>",
        `network token; visible to local users in ps, prefer the variable or --token-file ${
          envHelp(NODE_ENV.token)
        }`,
      )
      .option(
        "--token-file <file>",
        `file holding the network token ${envHelp(NODE_ENV.tokenFile)}`,
      )
      .option(
        "--listen-maddrs <list>",
        `comma-separated listen multiaddrs (default: /ip4/0.0.0.0/tcp/0,/ip6/::/tcp/0) ${
          envHelp(NODE_ENV.listenMaddrs)
        }`,
      )
      .option(
        "--bootstrap-peers <list>",
        `comma-separated bootstrap multiaddrs with /p2p/<id>, replacing the public IPFS list; "none" for a seed node ${
          envHelp(NODE_ENV.bootstrapPeers)
        }`,
      )
      .option("--no-dht", `disable the Kademlia DHT rendezvous ${envHelp(NODE_ENV.noDht)}=true`)
      .option("--no-mdns", `disable mDNS discovery ${envHelp(NODE_ENV.noMdns)}=true`)
      .option("--network-id <id>", `bucket name prefix ${envHelp(NODE_ENV.networkId)}`)
      .option(
        "--identity <file>",
        `private key file, created once (mode 0600) and reused ${envHelp(NODE_ENV.identity)}`,
      )
      .option(
        "--api-listen <addr>",
        `serve the HTTP API on HOST:PORT ${envHelp(NODE_ENV.apiListen)}`,
      )
      .option(
        "--api-token <token>",
        `bearer token the API requires; mandatory off loopback ${envHelp(NODE_ENV.apiToken)}`,
      )
      .option(
        "--api-token-file <file>",
        `file holding the API's bearer token ${envHelp(NODE_ENV.apiTokenFile)}`,
      )
      .option(
        "--api-allowed-hosts <list>",
        `comma-separated host names the API also answers for (a proxy's name), beside loopback and its own address ${
          envHelp(NODE_ENV.apiAllowedHosts)
        }`,
      )
      .option(
        "--max-connections <n>",
        `${maxConnectionsHelp} ${envHelp(NODE_ENV.maxConnections)}`,
      )
      .option(
        "--private",
        `private network: token-derived noise prologue, Go peers cannot join ${
          envHelp(NODE_ENV.private)
        }=true`,
      )
      .addOption(
        new Option(
          "--log-level <level>",
          `log level (default: info) ${envHelp(NODE_ENV.logLevel)}`,
        ),
      )
      .addOption(
        new Option(
          "--log-format <format>",
          `text or json (default: text) ${envHelp(NODE_ENV.logFormat)}`,
        ),
      ),
  );
}

/** Adds the NAT flags; the command keeps its type (their values are read as `NatFlags`). */
function withNat<T>(command: T): T {
  addNatFlags(command as never);
  return command;
}

/** The raw values of the common flags, as commander parses them. */
export interface NodeFlags extends NatFlags {
  token?: string;
  tokenFile?: string;
  listenMaddrs?: string;
  bootstrapPeers?: string;
  dht?: boolean;
  mdns?: boolean;
  networkId?: string;
  identity?: string;
  apiListen?: string;
  apiToken?: string;
  apiTokenFile?: string;
  apiAllowedHosts?: string;
  maxConnections?: string;
  private?: true;
  logLevel?: string;
  logFormat?: string;
}

/** The common flags after environment, defaults and validation. */
export interface ResolvedNodeFlags {
  /** The token text as given, if any. */
  tokenText: string | undefined;
  /** The decoded token, if any. */
  token: NetworkToken | undefined;
  /** Node options except the token and the key. */
  node: Omit<NodeOptions, "token" | "privateKey">;
  networkId: string | undefined;
  identityPath: string | undefined;
  apiListen: string | undefined;
  apiToken: string | undefined;
  /** `--api-allowed-hosts`, parsed. */
  /** Validated entries of `--api-allowed-hosts`. */
  apiAllowedHosts: string[];
  logLevel: string;
  logFormat: string;
}

/**
 * Applies flag → environment → default precedence to the common flags and validates them.
 *
 * @throws {UsageError} A value that cannot be used, named in the message.
 * @throws {InvalidTokenError} A token that does not decode.
 */
export function resolveNodeFlags(flags: NodeFlags, env: EnvReader): ResolvedNodeFlags {
  const token = resolveSecret({
    flag: "--token",
    value: flags.token,
    fileFlag: "--token-file",
    file: flags.tokenFile,
    env: NODE_ENV.token,
    fileEnv: NODE_ENV.tokenFile,
  }, env);
  const apiToken = resolveSecret({
    flag: "--api-token",
    value: flags.apiToken,
    fileFlag: "--api-token-file",
    file: flags.apiTokenFile,
    env: NODE_ENV.apiToken,
    fileEnv: NODE_ENV.apiTokenFile,
  }, env);
  const allowedHosts = flags.apiAllowedHosts ?? firstEnv(env, NODE_ENV.apiAllowedHosts);
  const listen = flags.listenMaddrs ?? firstEnv(env, NODE_ENV.listenMaddrs);
  const bootstrap = flags.bootstrapPeers ?? firstEnv(env, NODE_ENV.bootstrapPeers);
  const maxConnections = flags.maxConnections ?? firstEnv(env, NODE_ENV.maxConnections);
  const logLevel = flags.logLevel ?? firstEnv(env, NODE_ENV.logLevel) ?? "info";
  const logFormat = flags.logFormat ?? firstEnv(env, NODE_ENV.logFormat) ?? "text";
  parseLogLevel(logLevel);
  parseLogFormat(logFormat);
  const node: Omit<NodeOptions, "token" | "privateKey"> = {
    dht: flags.dht !== false && !envFlag(env, NODE_ENV.noDht),
    mdns: flags.mdns !== false && !envFlag(env, NODE_ENV.noMdns),
    private: flags.private === true || envFlag(env, NODE_ENV.private),
    ...(listen === undefined ? {} : { listen: parseListenAddrs(listen) }),
    ...(bootstrap === undefined ? {} : { bootstrapPeers: parseBootstrapPeers(bootstrap) }),
    ...(maxConnections === undefined
      ? {}
      : { maxConnections: parsePositiveInt("--max-connections", maxConnections) }),
    ...resolveNatFlags(flags, env),
  };
  return {
    tokenText: token?.text,
    token: token === undefined ? undefined : decodeTokenFrom(token),
    node,
    networkId: flags.networkId ?? firstEnv(env, NODE_ENV.networkId),
    identityPath: flags.identity ?? firstEnv(env, NODE_ENV.identity),
    apiListen: flags.apiListen ?? firstEnv(env, NODE_ENV.apiListen),
    apiToken: apiToken?.text,
    apiAllowedHosts: allowedHosts === undefined ? [] : validHosts(allowedHosts),
    logLevel,
    logFormat,
  };
}

/** Decodes a token, naming the file it came from when it does not decode. */
function decodeTokenFrom(token: Secret): NetworkToken {
  try {
    return decodeToken(token.text);
  } catch (err) {
    if (!(err instanceof InvalidTokenError) || !token.fromFile) throw err;
    throw new InvalidTokenError(`${err.message} (from ${token.source})`, { cause: err });
  }
}

function splitList(text: string): string[] {
  return text.split(",").map((s) => s.trim()).filter((s) => s !== "");
}

function parseListenAddrs(text: string): string[] {
  const addrs = splitList(text);
  if (addrs.length === 0) throw new UsageError(`Cannot use --listen-maddrs "${text}": empty list`);
  for (const addr of addrs) parseMultiaddr("--listen-maddrs", addr);
  return addrs;
}

function parseBootstrapPeers(text: string): string[] {
  if (text.trim().toLowerCase() === "none") return [];
  const addrs = splitList(text);
  for (const addr of addrs) {
    parseMultiaddr("--bootstrap-peers", addr);
    if (!addr.includes("/p2p/")) {
      throw new UsageError(`Cannot use --bootstrap-peers "${addr}": missing /p2p/<peer id>`);
    }
  }
  return addrs;
}

function parseMultiaddr(flag: string, addr: string): void {
  try {
    multiaddr(addr);
  } catch {
    throw new UsageError(`Cannot use ${flag} "${addr}": not a multiaddr`);
  }
}

/**
 * Turns libp2p's failure to listen (an address taken, not local, or with no transport for it)
 * into a one-line error naming each address; `undefined` for any other error.
 */
export function listenFailureOf(err: unknown): UsageError | undefined {
  if (!(err instanceof Error) || err.name !== "UnsupportedListenAddressesError") return undefined;
  const problems = [...err.message.matchAll(/^\s*(\/\S+): (?:\w*Error: )?(.+)$/gm)]
    .map(([, addr, reason]) => `"${addr}": ${reason!.trim()}`);
  const detail = problems.length > 0 ? problems.join("; ") : "no address could be used";
  return new UsageError(`Cannot listen on --listen-maddrs ${detail}`, { cause: err });
}

/** Parses a positive integer flag value. */
export function parsePositiveInt(flag: string, text: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(value) || value <= 0) {
    throw new UsageError(`Cannot use ${flag} "${text}": not a positive integer`);
  }
  return value;
}

/** The entries of an `--api-allowed-hosts` list, checked now so a bad one stops the start. */
function validHosts(list: string): string[] {
  parseAllowedHosts(list);
  return list.split(",").map((entry) => entry.trim()).filter((entry) => entry !== "");
}
