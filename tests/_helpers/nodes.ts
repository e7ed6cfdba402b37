import { LineProcess, P2PProcess } from "./process.ts";
import { waitFor } from "./wait.ts";

/** The JSON line a node-running command prints on stdout at start. */
export interface StartLine {
  peerId: string;
  addresses: string[];
  api?: string;
  token?: string;
  [field: string]: unknown;
}

/** Loopback-only flags: 127.0.0.1 listener, no mDNS, explicit bootstrap list, API on port 0. */
export function loopbackFlags(bootstrap: string[] = []): string[] {
  return [
    "--listen-maddrs",
    "/ip4/127.0.0.1/tcp/0",
    "--no-mdns",
    "--bootstrap-peers",
    bootstrap.length === 0 ? "none" : bootstrap.join(","),
    "--api-listen",
    "127.0.0.1:0",
  ];
}

/** A `p2p` process that printed its start line. */
export interface RunningNode {
  process: P2PProcess;
  start: StartLine;
  /** The API base URL. */
  api: string;
  /** The first loopback multiaddr, with /p2p/<id>. */
  addr: string;
}

/** Spawns `p2p <command> …` and waits (bounded) for its start line. */
export async function spawnNode(
  command: string[],
  env: Record<string, string> = {},
  timeoutMs = 20_000,
): Promise<RunningNode> {
  const process = new P2PProcess(command, env);
  try {
    const line = await waitFor(
      () => process.stdoutLines.find((l) => l.startsWith("{")),
      { timeoutMs, message: `start line of p2p ${command[0]}` },
    ).catch((err) => {
      throw new Error(`${err.message}\nstderr:\n${process.stderrText}`);
    });
    const start = JSON.parse(line) as StartLine;
    const addr = start.addresses.find((a) => a.startsWith("/ip4/127.0.0.1/")) ?? start.addresses[0];
    if (addr === undefined) throw new Error("node printed no address");
    return {
      process,
      start,
      api: start.api ?? "",
      addr: addr.includes("/p2p/") ? addr : `${addr}/p2p/${start.peerId}`,
    };
  } catch (err) {
    await process.stop("SIGKILL");
    throw err;
  }
}

/** GETs a JSON document from a node's API; `undefined` on 404. */
export async function getJson(api: string, path: string): Promise<unknown> {
  const response = await fetch(`${api}${path}`);
  const body = await response.json();
  if (response.status === 404) return undefined;
  if (!response.ok) throw new Error(`${path}: ${response.status} ${JSON.stringify(body)}`);
  return body;
}

/** Sends a JSON request to a node's API and returns the decoded answer. */
export async function sendJson(
  api: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${api}${path}`, {
    method,
    headers: { "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: await response.json() };
}

/** Stops every process (SIGTERM, then SIGKILL after the bound); never throws. */
export async function stopAll(nodes: (RunningNode | LineProcess | undefined)[]): Promise<void> {
  await Promise.all(nodes.map(async (n) => {
    if (n === undefined) return;
    const p = n instanceof LineProcess ? n : n.process;
    await p.stop().catch(() => {});
  }));
}
