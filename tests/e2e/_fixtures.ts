// Shared pieces of the end-to-end suites: HTTP-ish backends on 127.0.0.1 that can be slowed,
// stopped and restarted on the same port, and a `p2p federated` + workers cluster of
// processes; the clients and load loops are in _traffic.ts (re-exported here). Loopback only.
// The helpers module comes first: it loads the Deno shims.
import {
  getJson,
  loopbackFlags,
  type RunningNode,
  spawnNode,
  stopAll,
  waitFor,
  withTimeout,
} from "../_helpers/mod.ts";
import { encodeToken, generateTokenConfig } from "../../src/token/token.ts";
import { closeQuietly, writeAll } from "../_helpers/tcp.ts";
import { freePort } from "../../bench/lib/net.ts";
import { MAX_DOWNLOAD, PATTERN } from "./_traffic.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The host name every worker ID starts with (workers run on this machine). */
export const HOST = Deno.hostname();

export { freePort };
export * from "./_traffic.ts";

// ---------------------------------------------------------------------------------------
// Backends

/**
 * An HTTP-ish backend on 127.0.0.1 that answers with its name:
 * - `GET /` → `200`, body `<name>\n`, then close;
 * - `GET /download?bytes=N` → `200`, body `<name>\n` + the first N bytes of PATTERN, close;
 * - `GET /hold` → `200`, body `<name>\n`, then kept open until the client closes.
 * `delayMs` delays every answer (a slow backend); `stop()` closes the listener and every
 * connection (the service dies); `start()` brings it back on the same port.
 */
export class TestBackend {
  readonly name: string;
  readonly port: number;
  /** Delay before each answer, in ms. */
  delayMs = 0;
  /** Connections accepted since the first start. */
  accepted = 0;
  #listener: Deno.Listener | undefined;
  #conns = new Set<Deno.Conn>();
  #loop: Promise<void> | undefined;

  constructor(name: string, port = 0) {
    this.name = name;
    const listener = Deno.listen({ hostname: "127.0.0.1", port });
    this.port = (listener.addr as Deno.NetAddr).port;
    this.#listen(listener);
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.#listener !== undefined;
  }

  /** Starts again on the same port (after `stop()`). */
  start(): void {
    if (this.#listener !== undefined) return;
    this.#listen(Deno.listen({ hostname: "127.0.0.1", port: this.port }));
  }

  /** Closes the listener and every open connection. */
  async stop(): Promise<void> {
    const listener = this.#listener;
    this.#listener = undefined;
    if (listener !== undefined) closeQuietly(listener);
    for (const conn of this.#conns) closeQuietly(conn);
    await this.#loop;
  }

  #listen(listener: Deno.Listener): void {
    this.#listener = listener;
    this.#loop = (async () => {
      while (true) {
        let conn: Deno.Conn;
        try {
          conn = await listener.accept();
        } catch {
          return;
        }
        this.accepted++;
        this.#conns.add(conn);
        this.#serve(conn).catch(() => {}).finally(() => {
          this.#conns.delete(conn);
          closeQuietly(conn);
        });
      }
    })();
  }

  async #serve(conn: Deno.Conn): Promise<void> {
    const head = await readHead(conn);
    const path = head.split(" ")[1] ?? "/";
    if (this.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.delayMs));
    await writeAll(
      conn,
      encoder.encode(
        `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n${this.name}\n`,
      ),
    );
    if (path.startsWith("/download?bytes=")) {
      const bytes = Math.min(MAX_DOWNLOAD, Number(path.slice("/download?bytes=".length)));
      for (let offset = 0; offset < bytes; offset += 64 * 1024) {
        await writeAll(conn, PATTERN.subarray(offset, Math.min(bytes, offset + 64 * 1024)));
      }
    } else if (path === "/hold") {
      const buffer = new Uint8Array(1024);
      while ((await conn.read(buffer)) !== null) {
        // discard until the client closes
      }
    }
  }
}

async function readHead(conn: Deno.Conn): Promise<string> {
  let text = "";
  const buffer = new Uint8Array(4096);
  while (!text.includes("\r\n\r\n")) {
    const n = await conn.read(buffer);
    if (n === null) throw new Error("EOF before the end of the request head");
    text += decoder.decode(buffer.subarray(0, n));
  }
  return text;
}

// ---------------------------------------------------------------------------------------
// A federated cluster of processes

/** One `p2p worker` process and its backend. */
export interface WorkerProcess {
  name: string;
  /** `<host>-<name>`. */
  id: string;
  backend: TestBackend;
  node: RunningNode;
}

/** `p2p federated` (the seed) and workers, as processes, with the token they share. */
export interface FedProcesses {
  tokenText: string;
  /** The balancer's fixed client port: a restarted balancer listens there again. */
  port: number;
  address: string;
  federated: RunningNode;
  workers: WorkerProcess[];
  /** Starts the balancer (again), bootstrapping to `bootstrap` (default: none, a seed). */
  startFederated(bootstrap?: string[], extra?: string[]): Promise<RunningNode>;
  stop(): Promise<void>;
}

/** The balancer's view: `GET /api/federated`. */
export interface FederatedView {
  accepted: number;
  refused: number;
  failovers: number;
  workers: {
    id: string;
    name: string;
    online: boolean;
    active: number;
    total: number;
    failed: number;
    backoffUntil: number;
  }[];
}

/** Starts a balancer and one worker per name (each with its own backend); waits until online. */
export async function startFedProcesses(
  names: string[],
  { federatedArgs = [] }: { federatedArgs?: string[] } = {},
): Promise<FedProcesses> {
  const tokenText = encodeToken(generateTokenConfig());
  const env = { P2P_TOKEN: tokenText };
  const port = freePort();
  const backends = names.map((name) => new TestBackend(name));
  const all: RunningNode[] = [];
  const cluster: FedProcesses = {
    tokenText,
    port,
    address: `127.0.0.1:${port}`,
    federated: undefined as unknown as RunningNode,
    workers: [],
    async startFederated(bootstrap = [], extra = federatedArgs) {
      const node = await spawnNode(
        ["federated", "--listen", `127.0.0.1:${port}`, ...extra, ...loopbackFlags(bootstrap)],
        env,
      );
      all.push(node);
      cluster.federated = node;
      return node;
    },
    async stop() {
      await stopAll(all);
      await Promise.all(backends.map((b) => b.stop()));
    },
  };
  try {
    const federated = await cluster.startFederated();
    cluster.workers = await Promise.all(names.map(async (name, i) => {
      const node = await spawnNode(
        [
          "worker",
          "--target",
          backends[i]!.address,
          "--name",
          name,
          ...loopbackFlags([federated.addr]),
        ],
        env,
      );
      all.push(node);
      return { name, id: `${HOST}-${name}`, backend: backends[i]!, node };
    }));
    await untilOnline(cluster, names);
    return cluster;
  } catch (err) {
    await cluster.stop();
    throw err;
  }
}

/** The balancer's `/api/federated`. */
export async function federatedView(cluster: FedProcesses): Promise<FederatedView> {
  return await getJson(cluster.federated.api, "/api/federated") as FederatedView;
}

/** Waits (bounded) until exactly `names` are online in the balancer's view. */
export async function untilOnline(
  cluster: FedProcesses,
  names: string[],
  timeoutMs = 20_000,
): Promise<void> {
  const want = names.map((n) => `${HOST}-${n}`).sort().join(",");
  const onlineOf = (v: FederatedView) =>
    v.workers.filter((w) => w.online).map((w) => w.id).sort().join(",");
  await waitFor(async () => onlineOf(await federatedView(cluster)) === want, {
    timeoutMs,
    intervalMs: 50,
    message: `workers ${want} online at the balancer`,
  });
}

export { percentile } from "../../src/messaging/stats.ts";

export { withTimeout };
