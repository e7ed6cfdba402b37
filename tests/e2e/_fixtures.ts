// Shared pieces of the end-to-end suites: HTTP-ish backends on 127.0.0.1 that can be slowed,
// stopped and restarted on the same port; clients that classify how each connection ended
// (checking every byte); load loops; and a `p2p federated` + workers cluster of processes.
// Loopback only. The helpers module comes first: it loads the Deno shims.
import {
  getJson,
  loopbackFlags,
  type RunningNode,
  spawnNode,
  stopAll,
  waitFor,
  withTimeout,
} from "../_helpers/mod.ts";
import { createHash } from "node:crypto";
import { encodeToken, generateTokenConfig } from "../../src/token/token.ts";
import { closeQuietly, writeAll } from "../_helpers/tcp.ts";
import { freePort } from "../../bench/lib/net.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The host name every worker ID starts with (workers run on this machine). */
export const HOST = Deno.hostname();

export { freePort };

// ---------------------------------------------------------------------------------------
// Payload

/** Largest download a backend serves. */
export const MAX_DOWNLOAD = 4 * 1024 * 1024;

/** The bytes every download serves: a fixed pseudo-random pattern (its first N bytes). */
export const PATTERN: Uint8Array = (() => {
  const out = new Uint8Array(MAX_DOWNLOAD);
  let x = 0x2545f491;
  for (let i = 0; i < out.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
})();

const patternHashes = new Map<number, string>();

/** sha256 (hex) of the first `bytes` bytes of {@linkcode PATTERN}. */
export function patternSha256(bytes: number): string {
  let hash = patternHashes.get(bytes);
  if (hash === undefined) {
    hash = createHash("sha256").update(PATTERN.subarray(0, bytes)).digest("hex");
    patternHashes.set(bytes, hash);
  }
  return hash;
}

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
// Clients

/**
 * How a client connection ended:
 * - `ok`: a complete `200` answer, every byte checked (sha256 of the download);
 * - `closed`: the connection ended early (EOF or reset) with a correct prefix: a clean close;
 * - `refused`: nothing listened (the balancer was down);
 * - `unavailable`: the balancer answered `503`;
 * - `corrupt`: bytes differ from what the backend sent (always a failure);
 * - `timeout`: no end within the bound (a hang: always a failure).
 */
export type Outcome = "ok" | "closed" | "refused" | "unavailable" | "corrupt" | "timeout";

/** One client connection, as the client saw it. */
export interface ClientResult {
  outcome: Outcome;
  /** The backend that answered (first body line), if any. */
  worker: string | undefined;
  /** Body bytes after the name line. */
  bytes: number;
  startedAt: number;
  endedAt: number;
  detail?: string;
}

/**
 * `GET /download?bytes=N` (or `GET /` when `bytes` is 0) through `address`, read to the end
 * and classified; never throws and never takes longer than `timeoutMs`.
 */
export async function fetchThrough(
  address: string,
  bytes: number,
  timeoutMs = 10_000,
): Promise<ClientResult> {
  const startedAt = Date.now();
  const [hostname, port] = address.split(":");
  let conn: Deno.TcpConn | undefined;
  const result = (outcome: Outcome, worker?: string, got = 0, detail?: string): ClientResult => ({
    outcome,
    worker,
    bytes: got,
    startedAt,
    endedAt: Date.now(),
    ...(detail === undefined ? {} : { detail }),
  });
  const attempt = async (): Promise<ClientResult> => {
    try {
      conn = await Deno.connect({ hostname: hostname!, port: Number(port) });
    } catch (err) {
      return result("refused", undefined, 0, String(err));
    }
    const path = bytes > 0 ? `/download?bytes=${bytes}` : "/";
    try {
      await writeAll(conn, encoder.encode(`GET ${path} HTTP/1.1\r\nHost: e2e\r\n\r\n`));
    } catch (err) {
      return result("closed", undefined, 0, `write: ${err}`);
    }
    const chunks: Uint8Array[] = [];
    let total = 0;
    let ending = "eof";
    const buffer = new Uint8Array(64 * 1024);
    try {
      while (true) {
        const n = await conn.read(buffer);
        if (n === null) break;
        chunks.push(buffer.slice(0, n));
        total += n;
      }
    } catch (err) {
      ending = `read error ${err instanceof Error ? err.name : err}`;
    }
    const raw = new Uint8Array(total);
    let offset = 0;
    for (const c of chunks) {
      raw.set(c, offset);
      offset += c.byteLength;
    }
    return classify(raw, bytes, ending, result);
  };
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      attempt(),
      new Promise<ClientResult>((resolve) => {
        timer = setTimeout(() => resolve(result("timeout", undefined, 0)), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
    if (conn !== undefined) closeQuietly(conn);
  }
}

function classify(
  raw: Uint8Array,
  bytes: number,
  ending: string,
  result: (outcome: Outcome, worker?: string, got?: number, detail?: string) => ClientResult,
): ClientResult {
  const headEnd = indexOf(raw, encoder.encode("\r\n\r\n"));
  if (headEnd < 0) return result("closed", undefined, 0, `${ending} before a full head`);
  const head = decoder.decode(raw.subarray(0, headEnd));
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
  const body = raw.subarray(headEnd + 4);
  if (status === 503) return result("unavailable", undefined, 0, decoder.decode(body));
  if (status !== 200) return result("corrupt", undefined, 0, `status line ${JSON.stringify(head)}`);
  const newline = body.indexOf(10);
  if (newline < 0) return result("closed", undefined, 0, `${ending} before the name line`);
  const worker = decoder.decode(body.subarray(0, newline));
  const data = body.subarray(newline + 1);
  // Every byte received must be the backend's byte at that offset, complete or not.
  for (let i = 0; i < Math.min(data.byteLength, bytes); i++) {
    if (data[i] !== PATTERN[i]) {
      return result("corrupt", worker, data.byteLength, `byte ${i} differs`);
    }
  }
  if (data.byteLength > bytes) {
    return result("corrupt", worker, data.byteLength, `${data.byteLength - bytes} extra bytes`);
  }
  if (data.byteLength < bytes) {
    return result("closed", worker, data.byteLength, `${ending} after ${data.byteLength} bytes`);
  }
  const sha = createHash("sha256").update(data).digest("hex");
  if (sha !== patternSha256(bytes)) return result("corrupt", worker, data.byteLength, "sha256");
  return result("ok", worker, data.byteLength);
}

function indexOf(haystack: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/** A connection held open through the balancer (`GET /hold`), and how it ends. */
export interface HeldConnection {
  worker: string;
  /** Resolves with the ms since the epoch at which the connection ended (EOF or error). */
  ended: Promise<number>;
  /** Whether it has ended. */
  readonly done: boolean;
  close(): void;
}

/** Opens `GET /hold` through `address` and waits (bounded) for the worker's name line. */
export async function hold(address: string, timeoutMs = 10_000): Promise<HeldConnection> {
  const [hostname, port] = address.split(":");
  const conn = await Deno.connect({ hostname: hostname!, port: Number(port) });
  try {
    await writeAll(conn, encoder.encode("GET /hold HTTP/1.1\r\nHost: e2e\r\n\r\n"));
    let text = "";
    const buffer = new Uint8Array(4096);
    await withTimeout(
      (async () => {
        while (!/\r\n\r\n[^\n]*\n/.test(text)) {
          const n = await conn.read(buffer);
          if (n === null) throw new Error(`EOF before the name line: ${JSON.stringify(text)}`);
          text += decoder.decode(buffer.subarray(0, n));
        }
      })(),
      timeoutMs,
      "the name line of a held connection",
    );
    const worker = /\r\n\r\n([^\n]*)\n/.exec(text)![1]!;
    let done = false;
    const ended = (async () => {
      try {
        while ((await conn.read(buffer)) !== null) {
          // nothing more is expected
        }
      } catch {
        // reset: an end too
      }
      done = true;
      return Date.now();
    })();
    return {
      worker,
      ended,
      get done() {
        return done;
      },
      close: () => closeQuietly(conn),
    };
  } catch (err) {
    closeQuietly(conn);
    throw err;
  }
}

/** Clients in a loop through `address` until `stop()`: every result is kept. */
export class Load {
  readonly results: ClientResult[] = [];
  #running = true;
  #lanes: Promise<void>[];

  constructor(
    address: () => string,
    { lanes, bytes, timeoutMs = 10_000 }: { lanes: number; bytes: number; timeoutMs?: number },
  ) {
    this.#lanes = Array.from({ length: lanes }, async () => {
      while (this.#running) {
        const r = await fetchThrough(address(), bytes, timeoutMs);
        this.results.push(r);
        // Nothing listens (the balancer is restarting): retry soon, not in a busy loop.
        if (r.outcome === "refused") await new Promise((resolve) => setTimeout(resolve, 20));
      }
    });
  }

  /** Results of connections started in [from, to). */
  between(from: number, to = Infinity): ClientResult[] {
    return this.results.filter((r) => r.startedAt >= from && r.startedAt < to);
  }

  /** Stops the loops and waits for the connections in flight (each is bounded). */
  async stop(): Promise<ClientResult[]> {
    this.#running = false;
    await Promise.all(this.#lanes);
    return this.results;
  }
}

/** `outcome=count` of `results`, for messages. */
export function tally(results: ClientResult[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of results) {
    const key = r.outcome === "ok" ? `ok:${r.worker}` : r.outcome;
    out[key] = (out[key] ?? 0) + 1;
  }
  return out;
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
