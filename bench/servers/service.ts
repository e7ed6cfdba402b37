/**
 * The bench's TCP service, run as its own process (`deno run --allow-net service.ts`).
 * Prints `{"port": N}` on stdout, then serves on 127.0.0.1 until stdin closes or SIGTERM.
 *
 * Per connection the first byte picks the command:
 * - `U`: upload. Counts the bytes after it until EOF, answers the count (u64 big-endian).
 * - `D` + u64 big-endian N: download. Sends N bytes, then half-closes.
 * - `E`: echo everything after it until EOF.
 *
 * @module
 */

import { writeAll } from "../../src/node/tcp_io.ts";
import { acceptLoop } from "./accept.ts";

const IDLE_LIMIT_MS = 60_000; // a stuck client never holds a connection longer than this
const CHUNK = 256 * 1024;

async function readExact(conn: Deno.Conn, buf: Uint8Array): Promise<boolean> {
  for (let offset = 0; offset < buf.byteLength;) {
    const n = await conn.read(buf.subarray(offset));
    if (n === null) return false;
    offset += n;
  }
  return true;
}

const payload = new Uint8Array(CHUNK).map((_, i) => i & 0xff);

async function serve(conn: Deno.TcpConn): Promise<void> {
  conn.setNoDelay(true);
  const timer = setTimeout(() => {
    try {
      conn.close();
    } catch {
      // closed
    }
  }, IDLE_LIMIT_MS);
  const buf = new Uint8Array(CHUNK);
  try {
    const cmd = new Uint8Array(1);
    if (!await readExact(conn, cmd)) return;
    if (cmd[0] === 0x55 /* U */) {
      let total = 0;
      while (true) {
        const n = await conn.read(buf);
        if (n === null) break;
        total += n;
      }
      const answer = new Uint8Array(8);
      new DataView(answer.buffer).setBigUint64(0, BigInt(total));
      await writeAll(conn, answer);
      await conn.closeWrite();
    } else if (cmd[0] === 0x44 /* D */) {
      const head = new Uint8Array(8);
      if (!await readExact(conn, head)) return;
      let left = Number(new DataView(head.buffer).getBigUint64(0));
      while (left > 0) {
        const n = Math.min(left, CHUNK);
        await writeAll(conn, payload.subarray(0, n));
        left -= n;
      }
      await conn.closeWrite();
      while (await conn.read(buf) !== null) {
        // wait for the client's close
      }
    } else if (cmd[0] === 0x45 /* E */) {
      while (true) {
        const n = await conn.read(buf);
        if (n === null) break;
        await writeAll(conn, buf.subarray(0, n));
      }
      await conn.closeWrite();
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
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
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
  // The harness holds our stdin open; when it goes away, so do we.
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
  await acceptLoop(listener, (conn) => void serve(conn));
}
