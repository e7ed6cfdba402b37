// Shared fixtures of the API tests: a network of `p2p` processes on loopback (a federated
// seed, named workers in front of small HTTP backends) and clients that open one TCP
// connection per request, as the balancer counts connections. The helpers module comes first:
// it loads the Deno shims before libp2p.
import {
  loopbackFlags,
  NODE_TEST,
  type RunningNode,
  spawnNode,
  stopAll,
  waitFor,
  withTimeout,
} from "../../_helpers/mod.ts";
import { generateToken } from "../../../src/token/token.ts";

export { NODE_TEST };

/** A tiny HTTP backend answering `hello from <name>`. */
export interface Backend {
  name: string;
  /** `127.0.0.1:PORT`. */
  address: string;
  close(): Promise<void>;
}

/** Starts a backend on a free loopback port. */
export function startBackend(name: string): Backend {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () => new Response(`hello from ${name}\n`),
  );
  return {
    name,
    address: `127.0.0.1:${server.addr.port}`,
    close: () => server.shutdown().catch(() => {}),
  };
}

/** One worker process of a {@linkcode TestNetwork}. */
export interface TestWorker {
  name: string;
  pool: string;
  node: RunningNode;
  backend: Backend;
}

/** A federated seed (balancer + API) and worker processes bootstrapping to it. */
export interface TestNetwork {
  token: string;
  seed: RunningNode;
  /** The balancer's `127.0.0.1:PORT`. */
  balancer: string;
  workers: TestWorker[];
  /** Stops every process and backend; never throws. */
  stop(): Promise<void>;
}

/**
 * Starts `p2p federated` (round-robin, pool `federated`) and one `p2p worker` per entry of
 * `workers`, all on loopback with mDNS off and the seed as the only bootstrap peer.
 */
export async function startTestNetwork(
  workers: { name: string; pool?: string }[],
  seedFlags: string[] = [],
): Promise<TestNetwork> {
  const token = generateToken();
  const env = { P2P_TOKEN: token };
  const backends: Backend[] = [];
  const nodes: RunningNode[] = [];
  const stop = async (): Promise<void> => {
    await stopAll(nodes);
    await Promise.all(backends.map((b) => b.close()));
  };
  try {
    const seed = await spawnNode(
      [
        "federated",
        "--listen",
        "127.0.0.1:0",
        "--strategy",
        "round-robin",
        ...loopbackFlags(),
        ...seedFlags,
      ],
      env,
    );
    nodes.push(seed);
    const started = await Promise.all(workers.map(async ({ name, pool = "federated" }) => {
      const backend = startBackend(name);
      backends.push(backend);
      const node = await spawnNode(
        [
          "worker",
          "--target",
          backend.address,
          "--pool",
          pool,
          "--name",
          name,
          ...loopbackFlags([seed.addr]),
        ],
        env,
      );
      nodes.push(node);
      return { name, pool, node, backend };
    }));
    return { token, seed, balancer: String(seed.start.listen), workers: started, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** A worker as `GET /api/pools/:pool` shows it. */
export interface PoolWorker {
  name: string;
  id: string;
  online: boolean;
  offlineReason?: string;
  lastSeen: string;
  receivedAgoMs: number;
  activeConnections: number;
  totalConnections: number;
}

/** GETs `path` from `api` and decodes the JSON answer, failing on a non-2xx status. */
export async function apiGet<T>(api: string, path: string): Promise<T> {
  const response = await fetch(`${api}${path}`, { signal: AbortSignal.timeout(5_000) });
  const text = await response.text();
  if (!response.ok) throw new Error(`GET ${path}: ${response.status} ${text}`);
  return JSON.parse(text) as T;
}

/** Waits (bounded) until `pool` on `api` lists exactly `names`, all online. */
export function untilPoolOnline(
  api: string,
  pool: string,
  names: string[],
  timeoutMs = 15_000,
): Promise<PoolWorker[]> {
  const want = [...names].sort().join(",");
  return waitFor(async () => {
    const { workers } = await apiGet<{ workers: PoolWorker[] }>(api, `/api/pools/${pool}`);
    const online = workers.filter((w) => w.online).map((w) => w.name).sort().join(",");
    return online === want && workers.length === names.length ? workers : undefined;
  }, { timeoutMs, intervalMs: 100, message: `${want} online in pool ${pool}` });
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * One HTTP GET over its own TCP connection (`Connection: close`), so that each call is one
 * client connection of the balancer. Returns the status and the body.
 */
export async function getOnce(address: string): Promise<{ status: number; body: string }> {
  const [hostname, port] = address.split(":");
  const conn = await Deno.connect({ hostname: hostname!, port: Number(port) });
  try {
    return await withTimeout(
      (async () => {
        const request = `GET / HTTP/1.1\r\nHost: ${address}\r\nConnection: close\r\n\r\n`;
        await conn.write(encoder.encode(request));
        const chunks: Uint8Array[] = [];
        const buf = new Uint8Array(16 * 1024);
        for (;;) {
          const n = await conn.read(buf);
          if (n === null) break;
          chunks.push(buf.slice(0, n));
        }
        const raw = decoder.decode(concat(chunks));
        const [head = "", body = ""] = raw.split("\r\n\r\n", 2);
        const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0);
        return { status, body };
      })(),
      5_000,
      `GET http://${address}/`,
    );
  } finally {
    try {
      conn.close();
    } catch {
      // already closed by the peer
    }
  }
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.length;
  }
  return out;
}

/** A regular expression for the start of a libp2p peer ID (Ed25519 `12D3KooW…`, RSA `Qm…`). */
export const PEER_ID_RE = /\b(?:12D3KooW[1-9A-HJ-NP-Za-km-z]{20,}|Qm[1-9A-HJ-NP-Za-km-z]{40,})/;
