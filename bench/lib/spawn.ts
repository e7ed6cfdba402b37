/** Spawning the bench's helper servers and `p2p` processes. */
import { Child } from "./proc.ts";

import { p2pDenoFlags, p2pEntry } from "./entry.ts";
import { generateToken } from "../../src/token/token.ts";
const SERVERS = new URL("../servers/", import.meta.url).pathname;

/** Loopback-only node flags: 127.0.0.1 listener, no mDNS, an explicit bootstrap list. */
export function loopbackFlags(token: string, bootstrap: readonly string[]): string[] {
  return [
    "--listen-maddrs",
    "/ip4/127.0.0.1/tcp/0",
    "--no-mdns",
    "--bootstrap-peers",
    bootstrap.length === 0 ? "none" : bootstrap.join(","),
    "--token",
    token,
    "--log-level",
    "warning",
  ];
}

/** The JSON line a node-running `p2p` command prints on stdout once started. */
export interface StartLine {
  peerId: string;
  addresses: string[];
  listen?: string;
  api?: string;
  [field: string]: unknown;
}

/** A started `p2p` process. */
export interface P2PChild {
  child: Child;
  start: StartLine;
  /** Its first 127.0.0.1 multiaddr with /p2p/<id>. */
  addr: string;
}

/** How {@linkcode spawnP2P} starts a process. */
export interface SpawnP2POptions {
  /** Bound on the wait for the start line, ms. @default {30000} */
  timeoutMs?: number;
  /**
   * Deno flags of this process, after the task's and `BENCH_DENO_FLAGS` (an inspector,
   * `--v8-flags`).
   */
  denoFlags?: readonly string[];
}

/** Spawns `deno run -A main.ts <args>` and waits (bounded) for its JSON start line. */
export async function spawnP2P(
  name: string,
  args: string[],
  options: SpawnP2POptions = {},
): Promise<P2PChild> {
  const child = new Child({
    name,
    cmd: Deno.execPath(),
    args: ["run", "-A", ...p2pDenoFlags(), ...options.denoFlags ?? [], p2pEntry(), ...args],
  });
  const timeoutMs = options.timeoutMs ?? 30_000;
  try {
    const line = await child.waitLine((l) => l.startsWith("{"), timeoutMs);
    const start = JSON.parse(line) as StartLine;
    const a = start.addresses.find((x) => x.startsWith("/ip4/127.0.0.1/")) ?? start.addresses[0];
    if (a === undefined) throw new Error(`${name} printed no address`);
    return { child, start, addr: a.includes("/p2p/") ? a : `${a}/p2p/${start.peerId}` };
  } catch (err) {
    await child.stop(2_000);
    throw err;
  }
}

/** A tunnel: `p2p expose` of a service and `p2p connect` to it, on a network of their own. */
export interface TunnelPair {
  expose: P2PChild;
  connect: P2PChild;
  /** The port `p2p connect` listens on (127.0.0.1). */
  port: number;
}

/**
 * Starts `p2p expose` for the service on `servicePort` and `p2p connect` to it (a fresh token,
 * loopback only); if `connect` cannot start, `expose` is stopped before the error is thrown.
 *
 * @param denoFlags Extra Deno flags of each of the two processes, by name.
 */
export async function spawnTunnelPair(
  servicePort: number,
  denoFlags: (name: "expose" | "connect") => readonly string[] = () => [],
): Promise<TunnelPair> {
  const token = generateToken();
  const expose = await spawnP2P("expose", [
    "expose",
    "--target",
    `127.0.0.1:${servicePort}`,
    "--service",
    "bench",
    ...loopbackFlags(token, []),
  ], { denoFlags: denoFlags("expose") });
  try {
    const connect = await spawnP2P("connect", [
      "connect",
      "--service",
      "bench",
      "--listen",
      "127.0.0.1:0",
      ...loopbackFlags(token, [expose.addr]),
    ], { denoFlags: denoFlags("connect") });
    const listen = connect.start.listen;
    if (typeof listen !== "string") {
      await connect.child.stop(2_000);
      throw new Error("connect printed no listen address");
    }
    return { expose, connect, port: Number(listen.split(":").pop()) };
  } catch (err) {
    await expose.child.stop(2_000);
    throw err;
  }
}

/** Spawns one of `bench/servers/*.ts` and waits for its JSON start line. */
export async function spawnServer<T>(
  script: string,
  args: string[],
  timeoutMs = 20_000,
): Promise<{ child: Child; info: T }> {
  const child = new Child({
    name: script.replace(/\.ts$/, ""),
    cmd: Deno.execPath(),
    args: ["run", "--allow-net", `${SERVERS}${script}`, ...args],
    stdin: "piped",
  });
  try {
    const line = await child.waitLine((l) => l.startsWith("{"), timeoutMs);
    return { child, info: JSON.parse(line) as T };
  } catch (err) {
    await child.stop(2_000);
    throw err;
  }
}
