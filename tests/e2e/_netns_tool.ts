// A helper the partition test runs inside its network namespaces (`ip netns exec NS deno run
// -A _netns_tool.ts …`), where the test process itself cannot open sockets:
//
//   echo HOST:PORT               a TCP echo server (FIN answered with FIN); runs until killed
//   serve HOST:PORT NAME         the same, except that a connection starting with "GET " gets
//                                an HTTP answer whose body is NAME, then is closed
//   roundtrip HOST:PORT BYTES    sends BYTES pseudo-random bytes, half-closes, reads the echo;
//                                prints {"ok":bool,"sent":n,"received":n,"ms":n,"error":…}
//   roundtrip-whole HOST:PORT BYTES  the same, but closes only once the whole echo is back
//                                (edgevpn closes both directions at the first EOF)
//   rtt HOST:PORT COUNT          COUNT 64-byte echoes on one connection, one at a time;
//                                prints {"ok":bool,"p50":ms,"p99":ms,"error":…}
import { createHash } from "node:crypto";
import { writeAll } from "../_helpers/tcp.ts";

function split(address: string): { hostname: string; port: number } {
  const [hostname, port] = address.split(":");
  return { hostname: hostname!, port: Number(port) };
}

async function echo(address: string, name?: string): Promise<void> {
  const listener = Deno.listen(split(address));
  console.log(JSON.stringify({ listening: address }));
  for await (const conn of listener) {
    (async () => {
      const buffer = new Uint8Array(64 * 1024);
      try {
        let first = true;
        while (true) {
          const n = await conn.read(buffer);
          if (n === null) break;
          if (
            first && name !== undefined &&
            new TextDecoder().decode(buffer.subarray(0, 4)) === "GET "
          ) {
            const body = `${name}\n`;
            await writeAll(
              conn,
              new TextEncoder().encode(
                `HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`,
              ),
            );
            break;
          }
          first = false;
          await writeAll(conn, buffer.subarray(0, n));
        }
        await conn.closeWrite();
      } catch {
        // the client went away
      } finally {
        try {
          conn.close();
        } catch {
          // closed
        }
      }
    })();
  }
}

async function roundtrip(address: string, bytes: number, halfClose: boolean): Promise<void> {
  const started = performance.now();
  const data = new Uint8Array(bytes);
  let x = 0x1234567;
  for (let i = 0; i < bytes; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    data[i] = x & 0xff;
  }
  const out = { ok: false, sent: 0, received: 0, ms: 0, error: undefined as string | undefined };
  let conn: Deno.TcpConn | undefined;
  const timer = setTimeout(() => {
    out.error = "timeout";
    try {
      conn?.close();
    } catch {
      // closed
    }
  }, 10_000);
  try {
    conn = await Deno.connect(split(address));
    const hash = createHash("sha256");
    const reading = (async () => {
      const buffer = new Uint8Array(64 * 1024);
      while (halfClose || out.received < bytes) {
        const n = await conn!.read(buffer);
        if (n === null) return;
        hash.update(buffer.subarray(0, n));
        out.received += n;
      }
    })();
    await writeAll(conn, data);
    out.sent = bytes;
    if (halfClose) await conn.closeWrite();
    await reading;
    out.ok = out.received === bytes &&
      hash.digest("hex") === createHash("sha256").update(data).digest("hex");
  } catch (err) {
    out.error ??= err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  } finally {
    clearTimeout(timer);
    try {
      conn?.close();
    } catch {
      // closed
    }
    out.ms = Math.round(performance.now() - started);
  }
  console.log(JSON.stringify(out));
}

async function rtt(address: string, count: number): Promise<void> {
  const out = { ok: false, p50: 0, p99: 0, error: undefined as string | undefined };
  let conn: Deno.TcpConn | undefined;
  const timer = setTimeout(() => {
    out.error = "timeout";
    try {
      conn?.close();
    } catch {
      // closed
    }
  }, 10_000);
  try {
    conn = await Deno.connect(split(address));
    conn.setNoDelay(true);
    const ping = new Uint8Array(64).fill(7);
    const pong = new Uint8Array(64);
    const times: number[] = [];
    for (let i = 0; i < count; i++) {
      const t0 = performance.now();
      await writeAll(conn, ping);
      for (let got = 0; got < 64;) {
        const n = await conn.read(pong.subarray(got));
        if (n === null) throw new Error("closed");
        got += n;
      }
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    out.p50 = Math.round(times[Math.floor(times.length / 2)]! * 100) / 100;
    out.p99 = Math.round(times[Math.floor(times.length * 0.99)]! * 100) / 100;
    out.ok = true;
  } catch (err) {
    out.error ??= err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  } finally {
    clearTimeout(timer);
    try {
      conn?.close();
    } catch {
      // closed
    }
  }
  console.log(JSON.stringify(out));
}

const [mode, address, bytes] = Deno.args;
if (mode === "echo" && address) await echo(address);
else if (mode === "serve" && address && bytes) await echo(address, bytes);
else if (mode === "rtt" && address) await rtt(address, Number(bytes ?? 100));
else if (mode === "roundtrip" && address) await roundtrip(address, Number(bytes ?? 1024), true);
else if (mode === "roundtrip-whole" && address) {
  await roundtrip(address, Number(bytes ?? 1024), false);
} else {
  console.error(
    "usage: _netns_tool.ts echo HOST:PORT | serve HOST:PORT NAME | roundtrip[-whole] HOST:PORT BYTES | rtt HOST:PORT COUNT",
  );
  Deno.exit(2);
}
