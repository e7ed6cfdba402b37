/**
 * The fallback plain proxy: a minimal Deno TCP proxy (read/write loops, half-close
 * forwarded, round-robin over the backends), run as its own process when neither haproxy
 * nor nginx is installed: `deno run --allow-net tcp_proxy.ts LISTEN_PORT BACKEND_PORT…`.
 * Prints `{"port": N}` on stdout; exits when stdin closes or on SIGTERM.
 *
 * @module
 */

import { acceptLoop } from "./accept.ts";

const CHUNK = 64 * 1024;

async function pump(from: Deno.Conn, to: Deno.Conn): Promise<void> {
  const buf = new Uint8Array(CHUNK);
  try {
    while (true) {
      const n = await from.read(buf);
      if (n === null) break;
      for (let offset = 0; offset < n;) offset += await to.write(buf.subarray(offset, n));
    }
    await to.closeWrite();
  } catch {
    try {
      from.close();
    } catch {
      // closed
    }
    try {
      to.close();
    } catch {
      // closed
    }
  }
}

async function handle(client: Deno.TcpConn, port: number): Promise<void> {
  client.setNoDelay(true);
  let backend: Deno.TcpConn;
  try {
    backend = await Deno.connect({ hostname: "127.0.0.1", port });
  } catch {
    client.close();
    return;
  }
  backend.setNoDelay(true);
  await Promise.all([pump(client, backend), pump(backend, client)]);
  for (const c of [client, backend]) {
    try {
      c.close();
    } catch {
      // closed
    }
  }
}

if (import.meta.main) {
  const [listenPort, ...backends] = Deno.args.map(Number);
  if (backends.length === 0) throw new Error("usage: tcp_proxy.ts LISTEN_PORT BACKEND_PORT…");
  const listener = Deno.listen({ hostname: "127.0.0.1", port: listenPort ?? 0 });
  console.log(JSON.stringify({ port: (listener.addr as Deno.NetAddr).port }));
  const stop = (): void => {
    try {
      listener.close();
    } catch {
      // closed
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
  let next = 0;
  await acceptLoop(listener, (conn) => void handle(conn, backends[next++ % backends.length]!));
}
