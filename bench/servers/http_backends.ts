/**
 * Tiny HTTP backends for the federated bench, run as their own process
 * (`deno run --allow-net http_backends.ts COUNT`). Prints `{"ports": [...]}` on stdout.
 * Each backend `i` reads a request head (up to the blank line), answers a fixed
 * `200` with body `b<i>` and `Connection: close`, and closes. Exits when stdin closes.
 *
 * @module
 */

import { acceptLoop } from "./accept.ts";

const IDLE_LIMIT_MS = 30_000;

function answer(i: number): Uint8Array {
  const body = `b${i}\n`;
  return new TextEncoder().encode(
    `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n` +
      `Connection: close\r\n\r\n${body}`,
  );
}

async function serve(conn: Deno.TcpConn, response: Uint8Array): Promise<void> {
  conn.setNoDelay(true);
  const timer = setTimeout(() => {
    try {
      conn.close();
    } catch {
      // closed
    }
  }, IDLE_LIMIT_MS);
  try {
    const buf = new Uint8Array(8192);
    let seen = "";
    while (!seen.includes("\r\n\r\n")) {
      const n = await conn.read(buf);
      if (n === null) return;
      seen += new TextDecoder().decode(buf.subarray(0, n));
      if (seen.length > 65536) return;
    }
    for (let offset = 0; offset < response.byteLength;) {
      offset += await conn.write(response.subarray(offset));
    }
  } catch {
    // the client went away
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch {
      // closed
    }
  }
}

if (import.meta.main) {
  const count = Number(Deno.args[0] ?? "3");
  const listeners = Array.from(
    { length: count },
    () => Deno.listen({ hostname: "127.0.0.1", port: 0 }),
  );
  console.log(JSON.stringify({ ports: listeners.map((l) => (l.addr as Deno.NetAddr).port) }));
  const stop = (): void => {
    for (const l of listeners) {
      try {
        l.close();
      } catch {
        // closed
      }
    }
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGTERM", stop);
  void (async () => {
    try {
      for await (const _ of Deno.stdin.readable) {
        // nothing is ever written
      }
    } catch {
      // broken pipe
    }
    stop();
  })();
  await Promise.all(listeners.map(async (l, i) => {
    const response = answer(i);
    await acceptLoop(l, (conn) => void serve(conn, response));
  }));
}
