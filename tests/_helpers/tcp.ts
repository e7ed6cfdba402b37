import { closeQuietly } from "../../src/node/tcp_io.ts";

export { closeQuietly, writeAll } from "../../src/node/tcp_io.ts";

/** Reads until EOF, handing each chunk to `onChunk`; returns the byte count. */
export async function readToEnd(
  conn: Deno.Conn,
  onChunk: (chunk: Uint8Array) => void | Promise<void> = () => {},
): Promise<number> {
  const buffer = new Uint8Array(64 * 1024);
  let total = 0;
  while (true) {
    const n = await conn.read(buffer);
    if (n === null) return total;
    total += n;
    await onChunk(buffer.subarray(0, n));
  }
}

/** Two connected ends of one loopback TCP connection, and how to close both. */
export interface LoopbackPair {
  /** The dialling end. */
  client: Deno.TcpConn;
  /** The accepted end. */
  server: Deno.TcpConn;
  /** Closes both ends (either may be closed already). */
  close(): void;
}

/** Connects a client to a throwaway loopback listener; the listener is closed once accepted. */
export async function loopbackPair(): Promise<LoopbackPair> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
    const server = await listener.accept();
    return {
      client,
      server,
      close: () => {
        closeQuietly(client);
        closeQuietly(server);
      },
    };
  } finally {
    listener.close();
  }
}

/** Joins byte chunks into one array. */
export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, p) => sum + p.byteLength, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.byteLength;
  }
  return out;
}

/** Reads until EOF and returns everything. */
export async function readAll(conn: Deno.Conn): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  await readToEnd(conn, (chunk) => void parts.push(chunk.slice()));
  return concat(parts);
}

/**
 * A deterministic, non-periodic-looking byte stream: a pseudo-random base of a length
 * prime to the chunk size, read cyclically, so no two aligned chunks repeat for a long time.
 */
export class Pattern {
  static readonly CHUNK = 64 * 1024;
  readonly #base: Uint8Array;
  readonly #length: number;
  #offset = 0;

  /** @param seed The PRNG seed. */
  constructor(seed = 0x9e3779b9) {
    this.#length = 1024 * 1024 + 7;
    this.#base = new Uint8Array(this.#length + Pattern.CHUNK);
    let x = seed >>> 0 || 1;
    for (let i = 0; i < this.#length; i++) {
      x ^= x << 13;
      x >>>= 0;
      x ^= x >>> 17;
      x ^= x << 5;
      x >>>= 0;
      this.#base[i] = x & 0xff;
    }
    this.#base.copyWithin(this.#length, 0, Pattern.CHUNK);
  }

  /** The next `n` (≤ CHUNK) bytes; valid until the next call. */
  next(n = Pattern.CHUNK): Uint8Array {
    const chunk = this.#base.subarray(this.#offset, this.#offset + n);
    this.#offset = (this.#offset + n) % this.#length;
    return chunk;
  }
}

/** Connects to `host:port`. */
export function connectTo(address: string): Promise<Deno.TcpConn> {
  const [hostname, port] = address.split(":");
  return Deno.connect({ hostname: hostname!, port: Number(port) });
}
/** A local TCP service on 127.0.0.1 run by the test. */
export interface Backend {
  /** `127.0.0.1:PORT`. */
  readonly address: string;
  readonly port: number;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Closes the listener and every connection; waits for the handlers. */
  close(): Promise<void>;
}

/** Serves `handle` on 127.0.0.1 (`port` 0 picks a free one). */
export function startBackend(
  handle: (conn: Deno.TcpConn) => Promise<void>,
  port = 0,
): Backend {
  const listener = Deno.listen({ hostname: "127.0.0.1", port });
  const conns = new Set<Deno.TcpConn>();
  const handlers = new Set<Promise<void>>();
  let accepted = 0;
  const loop = (async () => {
    while (true) {
      let conn: Deno.TcpConn;
      try {
        conn = await listener.accept();
      } catch {
        return;
      }
      accepted++;
      conns.add(conn);
      const done = handle(conn).catch(() => {}).finally(() => {
        conns.delete(conn);
        handlers.delete(done);
        closeQuietly(conn);
      });
      handlers.add(done);
    }
  })();
  const bound = listener.addr as Deno.NetAddr;
  return {
    address: `127.0.0.1:${bound.port}`,
    port: bound.port,
    get accepted() {
      return accepted;
    },
    async close() {
      closeQuietly(listener);
      for (const conn of conns) closeQuietly(conn);
      await loop;
      await Promise.allSettled([...handlers]);
    },
  };
}
