// Shared fixtures of the federated tests: loopback-only in-process networks, named HTTP
// backends, workers in front of them, and small TCP/HTTP clients. The helpers module comes
// first: it loads the Deno shims before libp2p.
import { NODE_TEST, withTimeout } from "../_helpers/mod.ts";
import { createHash } from "node:crypto";
import type { Network } from "../../src/network/network.ts";
import { startWorker, type Worker } from "../../src/services/worker.ts";

import { type FederatedServer, startFederated } from "../../src/federated/server.ts";
import type { FederatedServerInit } from "../../src/federated/options.ts";
import { encodeToken, generateTokenConfig, type NetworkToken } from "../../src/token/token.ts";
import {
  closeQuietly,
  concat,
  connectTo,
  Pattern,
  readAll,
  readToEnd,
  startBackend,
  writeAll,
} from "../_helpers/tcp.ts";

export { NODE_TEST };
export {
  ledgersConverged,
  loopbackAddr,
  startLoopbackNetwork,
  untilEvent,
} from "../_helpers/mod.ts";
import {
  ledgersConverged,
  loopbackAddr,
  startLoopbackNetwork,
  untilEvent,
} from "../_helpers/mod.ts";

/** The host name of every in-process worker: worker IDs are `fedhost-<name>`. */
export const WORKER_HOST = "fedhost";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

// ---------------------------------------------------------------------------------------
// Networks

/** A named HTTP backend and the in-process worker in front of it. */
export interface NamedWorker {
  name: string;
  /** `fedhost-<name>`. */
  id: string;
  backend: Backend;
  network: Network;
  worker: Worker;
}

/**
 * A seed node (it runs the balancers of in-process tests) and one node per worker,
 * bootstrapping to the seed; every worker serves a named backend in pool `federated`.
 */
export interface FedCluster {
  token: NetworkToken;
  tokenText: string;
  seed: Network;
  seedAddr: string;
  workers: NamedWorker[];
  /** Starts one more worker node (stopped by `stop()`); `target` defaults to a new backend. */
  addWorker(name: string, target?: string): Promise<NamedWorker>;
  /** Starts a balancer on the seed at 127.0.0.1:0, on the seed's shared view of its pool. */
  startServer(init?: Partial<FederatedServerInit>): Promise<FederatedServer>;
  stop(): Promise<void>;
}

/** Starts the seed and one worker per name, and waits until their ledgers see each other. */
export async function startFedCluster(names: string[]): Promise<FedCluster> {
  const token = generateTokenConfig();
  const networks: Network[] = [];
  const backends: Backend[] = [];
  const workers: NamedWorker[] = [];
  const servers: FederatedServer[] = [];
  const stop = async (): Promise<void> => {
    await Promise.allSettled(servers.map((s) => s.stop()));
    await Promise.allSettled(workers.map((w) => w.worker.stop()));
    await Promise.allSettled(networks.map((n) => n.stop()));
    await Promise.allSettled(backends.map((b) => b.close()));
  };
  try {
    const seed = await startLoopbackNetwork(token, []);
    networks.push(seed);
    const seedAddr = loopbackAddr(seed);
    const addWorker = async (name: string, target?: string): Promise<NamedWorker> => {
      let backend: Backend | undefined;
      if (target === undefined) {
        backend = startNamedBackend(name);
        backends.push(backend);
      }
      const network = await startLoopbackNetwork(token, [seedAddr]);
      networks.push(network);
      const worker = await startWorker(network, {
        target: target ?? backend!.address,
        pool: "federated",
        name,
        hostname: WORKER_HOST,
      });
      const named = { name, id: worker.id, backend: backend!, network, worker };
      workers.push(named);
      return named;
    };
    for (const name of names) await addWorker(name);
    await ledgersConverged(networks);
    return {
      token,
      tokenText: encodeToken(token),
      seed,
      seedAddr,
      workers: [...workers],
      addWorker,
      async startServer(init = {}) {
        const server = await startFederated(seed, {
          listen: "127.0.0.1:0",
          drainTimeoutS: 1,
          ...init,
        });
        servers.push(server);
        return server;
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Waits (bounded, on the view's events) until the balancer sees exactly `ids` online. */
export function untilOnline(
  server: FederatedServer,
  ids: string[],
  timeoutMs = 10_000,
): Promise<true> {
  const want = [...ids].sort().join(",");
  return untilEvent(
    server.view,
    "change",
    () => server.view.online().map((w) => w.id).sort().join(",") === want || undefined,
    timeoutMs,
    `workers ${want} online in the balancer's view`,
  );
}

// ---------------------------------------------------------------------------------------
// Backends

/** A local TCP service on 127.0.0.1 run by the test, answering with its name. */
export interface Backend {
  readonly name: string;
  /** `127.0.0.1:PORT`. */
  readonly address: string;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Lets every `/slow` answer finish. */
  release(): void;
  /** Closes the listener and every connection; waits for the handlers. */
  close(): Promise<void>;
}

/**
 * An HTTP-ish backend that answers with its own name:
 * - `GET /` → `200`, body `<name>\n`, then close;
 * - `GET /hold` → `200`, body `<name>\n`, kept open until the client closes;
 * - `GET /slow` → `200`, body `<name>\n`, then `done\n` and close once `release()` is called;
 * - `GET /download?bytes=N` → `200`, body `<name>\n` then N pattern bytes, then close;
 * - `POST /upload` (body until the client's EOF) → `200`, body `<name> <bytes> <sha256>\n`.
 */
export function startNamedBackend(name: string): Backend {
  let released = false;
  const waiting = new Set<() => void>();
  const gate = (): Promise<void> =>
    released ? Promise.resolve() : new Promise((resolve) => waiting.add(resolve));
  const handle = async (conn: Deno.TcpConn): Promise<void> => {
    const { head, rest } = await readHead(conn);
    const [method, path = "/"] = head.split(" ");
    const header = (extra = ""): Uint8Array =>
      encoder.encode(
        `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n${extra}\r\n`,
      );
    if (method === "POST" && path === "/upload") {
      const hash = createHash("sha256").update(rest);
      const bytes = rest.byteLength + await readToEnd(conn, (chunk) => void hash.update(chunk));
      await writeAll(conn, header());
      await writeAll(conn, encoder.encode(`${name} ${bytes} ${hash.digest("hex")}\n`));
      return;
    }
    await writeAll(conn, header());
    await writeAll(conn, encoder.encode(`${name}\n`));
    if (path === "/hold") {
      await readToEnd(conn);
    } else if (path === "/slow") {
      await gate();
      await writeAll(conn, encoder.encode("done\n"));
    } else if (path.startsWith("/download?bytes=")) {
      let left = Number(path.slice("/download?bytes=".length));
      const pattern = new Pattern();
      while (left > 0) {
        const chunk = pattern.next(Math.min(Pattern.CHUNK, left));
        await writeAll(conn, chunk);
        left -= chunk.byteLength;
      }
    }
  };
  const backend = startBackend(handle);
  return {
    name,
    address: backend.address,
    get accepted() {
      return backend.accepted;
    },
    release() {
      released = true;
      for (const resolve of waiting) resolve();
      waiting.clear();
    },
    close() {
      this.release();
      return backend.close();
    },
  };
}

/** Reads an HTTP head (up to the blank line); returns it and the bytes read past it. */
async function readHead(conn: Deno.Conn): Promise<{ head: string; rest: Uint8Array }> {
  let buffered: Uint8Array = new Uint8Array(0);
  const buffer = new Uint8Array(64 * 1024);
  while (true) {
    const end = indexOfBlankLine(buffered);
    if (end >= 0) {
      return {
        head: decoder.decode(buffered.subarray(0, end)),
        rest: buffered.slice(end + 4),
      };
    }
    const n = await conn.read(buffer);
    if (n === null) throw new Error("EOF before the end of the request head");
    buffered = concat([buffered, buffer.subarray(0, n)]);
  }
}

function indexOfBlankLine(data: Uint8Array): number {
  for (let i = 0; i + 3 < data.byteLength; i++) {
    if (data[i] === 13 && data[i + 1] === 10 && data[i + 2] === 13 && data[i + 3] === 10) {
      return i;
    }
  }
  return -1;
}

/** A port nothing listens on (bound, then released). */
export function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

// ---------------------------------------------------------------------------------------
// Clients

export { closeQuietly, concat, connectTo, readAll, readToEnd, writeAll } from "../_helpers/tcp.ts";

/** An HTTP answer as the client saw it. */
export interface Answer {
  /** The status code (0 if there was no status line). */
  status: number;
  /** Everything before the body. */
  head: string;
  /** The body as text. */
  body: string;
  /** The whole answer. */
  raw: string;
}

/** Parses a raw HTTP answer. */
export function parseAnswer(raw: string): Answer {
  const end = raw.indexOf("\r\n\r\n");
  const head = end < 0 ? raw : raw.slice(0, end);
  const body = end < 0 ? "" : raw.slice(end + 4);
  const status = Number(/^HTTP\/1\.1 (\d{3}) /.exec(head)?.[1] ?? 0);
  return { status, head, body, raw };
}

/** One short `GET path` through `address`, read until EOF (bounded). */
export function request(address: string, path = "/", timeoutMs = 10_000): Promise<Answer> {
  return withTimeout(
    (async () => {
      const conn = await connectTo(address);
      try {
        await writeAll(conn, encoder.encode(`GET ${path} HTTP/1.1\r\nHost: test\r\n\r\n`));
        return parseAnswer(decoder.decode(await readAll(conn)));
      } finally {
        closeQuietly(conn);
      }
    })(),
    timeoutMs,
    `GET ${path} through ${address}`,
  );
}

/** The worker name a `GET /` answered with (throws on anything but a 200). */
export async function nameVia(address: string, timeoutMs = 10_000): Promise<string> {
  const answer = await request(address, "/", timeoutMs);
  if (answer.status !== 200) throw new Error(`expected a 200, got ${JSON.stringify(answer.raw)}`);
  return answer.body.trim();
}

/** A connection whose answer started (its worker's name arrived) and that stays open. */
export interface HeldConnection {
  conn: Deno.TcpConn;
  /** The worker that answered. */
  name: string;
  /** Text read after the name line so far. */
  rest: string;
}

/** Sends `GET path` and reads until the body's first line (the worker's name), bounded. */
export function openHeld(
  address: string,
  path = "/hold",
  timeoutMs = 10_000,
): Promise<HeldConnection> {
  return withTimeout(
    (async () => {
      const conn = await connectTo(address);
      try {
        await writeAll(conn, encoder.encode(`GET ${path} HTTP/1.1\r\nHost: test\r\n\r\n`));
        let text = "";
        const buffer = new Uint8Array(4096);
        while (true) {
          const answer = parseAnswer(text);
          const newline = answer.body.indexOf("\n");
          if (newline >= 0) {
            if (answer.status !== 200) throw new Error(`expected a 200, got ${text}`);
            return {
              conn,
              name: answer.body.slice(0, newline),
              rest: answer.body.slice(newline + 1),
            };
          }
          const n = await conn.read(buffer);
          if (n === null) throw new Error(`EOF before the worker's name (got ${text})`);
          text += decoder.decode(buffer.subarray(0, n), { stream: true });
        }
      } catch (err) {
        closeQuietly(conn);
        throw err;
      }
    })(),
    timeoutMs,
    `GET ${path} through ${address} (first line)`,
  );
}

/** How a held connection ended: `eof`, or `error` (reset) — never a hang (bounded). */
export function endOf(held: HeldConnection, timeoutMs: number): Promise<"eof" | "error"> {
  return withTimeout(
    readToEnd(held.conn).then(() => "eof" as const, () => "error" as const),
    timeoutMs,
    `the end of a connection held on ${held.name}`,
  );
}

// ---------------------------------------------------------------------------------------
// Payloads

export { Pattern } from "../_helpers/tcp.ts";

/** sha256 of the first `bytes` bytes of a fresh {@linkcode Pattern}. */
export function patternSha256(bytes: number, seed?: number): string {
  const pattern = new Pattern(seed);
  const hash = createHash("sha256");
  for (let left = bytes; left > 0;) {
    const chunk = pattern.next(Math.min(Pattern.CHUNK, left));
    hash.update(chunk);
    left -= chunk.byteLength;
  }
  return hash.digest("hex");
}

/** Runs `fn` with a cluster of workers named `names`, stopped afterwards whatever happens. */
export async function withFedCluster(
  fn: (cluster: FedCluster) => Promise<void>,
  names: string[] = ["alpha", "beta", "gamma"],
): Promise<void> {
  const cluster = await startFedCluster(names);
  try {
    await fn(cluster);
  } finally {
    await cluster.stop();
  }
}

/** How many times each name occurs. */
export function tallyNames(names: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const name of names) counts[name] = (counts[name] ?? 0) + 1;
  return counts;
}

/** Closes every held connection (quietly). */
export function closeAllHeld(held: (HeldConnection | undefined)[]): void {
  for (const h of held) if (h !== undefined) closeQuietly(h.conn);
}
