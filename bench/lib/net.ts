/** TCP helpers of the bench: every wait is bounded by the caller's deadline or a timeout. */

export { closeQuietly, writeAll } from "../../src/node/tcp_io.ts";

/** Fills `buf` completely; throws if the peer closes first. */
export async function readExact(conn: Deno.Conn, buf: Uint8Array): Promise<void> {
  for (let offset = 0; offset < buf.byteLength;) {
    const n = await conn.read(buf.subarray(offset));
    if (n === null) throw new Error(`connection closed after ${offset}/${buf.byteLength} bytes`);
    offset += n;
  }
}

/** Reads until EOF into a reused buffer; returns the byte count. */
export async function drain(conn: Deno.Conn, buf: Uint8Array): Promise<number> {
  let total = 0;
  while (true) {
    const n = await conn.read(buf);
    if (n === null) return total;
    total += n;
  }
}

/** Connects to 127.0.0.1:`port` with TCP_NODELAY. */
export async function connectLocal(port: number): Promise<Deno.TcpConn> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  conn.setNoDelay(true);
  return conn;
}

/** A port that was free on 127.0.0.1 a moment ago (for configs that need one up front). */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** Resolves with `promise`, or rejects after `ms` with `what` in the message. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `port` until a TCP connect succeeds (bounded). */
export async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const c = await Deno.connect({ hostname: "127.0.0.1", port });
      c.close();
      return;
    } catch (err) {
      last = err;
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  throw new Error(`port ${port} did not open within ${timeoutMs} ms: ${String(last)}`);
}
