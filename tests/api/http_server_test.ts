// The API's own HTTP/1.1 server in process, with short deadlines: framing (Content-Length,
// chunked, pipelining, 100-continue, HEAD), the malformed requests it refuses, and each
// deadline and the connection cap closing what it should.
import assert from "node:assert/strict";
import { HttpServer } from "../../src/api/http_server.ts";
import { closeQuietly, connectTo, readAll, writeAll } from "../_helpers/tcp.ts";
import { withTimeout } from "../_helpers/wait.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Echoes method, path and the body's length; `/slow` waits for `release`. */
async function echo(request: Request): Promise<Response> {
  const body = request.body === null ? 0 : (await request.arrayBuffer()).byteLength;
  return Response.json({ method: request.method, path: new URL(request.url).pathname, body });
}

async function withServer(
  fn: (address: string, server: HttpServer) => Promise<void>,
  limits = {},
): Promise<void> {
  const server = new HttpServer({ hostname: "127.0.0.1", port: 0, handler: echo, limits });
  try {
    await fn(`127.0.0.1:${server.addr.port}`, server);
  } finally {
    await server.shutdown();
  }
}

/** Writes `raw` on a new connection and reads everything the server sends until it closes. */
async function exchange(address: string, raw: string | Uint8Array[]): Promise<string> {
  const conn = await connectTo(address);
  try {
    return await withTimeout(
      (async () => {
        for (const part of typeof raw === "string" ? [encoder.encode(raw)] : raw) {
          await writeAll(conn, part);
        }
        return decoder.decode(await readAll(conn));
      })(),
      5_000,
      "the exchange",
    );
  } finally {
    closeQuietly(conn);
  }
}

const statuses = (text: string): number[] =>
  [...text.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]));

Deno.test("HttpServer: Content-Length, chunked and pipelined requests, HEAD, 100-continue", async () => {
  await withServer(async (address) => {
    const pipelined = await exchange(
      address,
      "GET /a HTTP/1.1\r\nHost: h\r\n\r\n" +
        "PUT /b HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello" +
        "PUT /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n" +
        "3\r\nabc\r\n4;ext=1\r\ndefg\r\n0\r\nTrailer: x\r\n\r\n" +
        "HEAD /d HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
    );
    assert.deepEqual(statuses(pipelined), [200, 200, 200, 200]);
    assert.match(pipelined, /"method":"GET","path":"\/a","body":0/);
    assert.match(pipelined, /"method":"PUT","path":"\/b","body":5/);
    assert.match(pipelined, /"method":"PUT","path":"\/c","body":7/);
    // HEAD: a Content-Length, no body, and the connection closed as asked.
    assert.match(pipelined, /HTTP\/1\.1 200 OK\r\n[^]*connection: close\r\n[^]*\r\n\r\n$/);
    const conn = await connectTo(address);
    try {
      await writeAll(
        conn,
        encoder.encode(
          "PUT /e HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 2\r\n" +
            "Connection: close\r\n\r\n",
        ),
      );
      const buffer = new Uint8Array(1024);
      const n = await withTimeout(conn.read(buffer), 5_000, "100 Continue");
      assert.equal(decoder.decode(buffer.subarray(0, n ?? 0)), "HTTP/1.1 100 Continue\r\n\r\n");
      await writeAll(conn, encoder.encode("ok"));
      assert.match(decoder.decode(await readAll(conn)), /"body":2/);
    } finally {
      closeQuietly(conn);
    }
  });
});

Deno.test("HttpServer: malformed requests get 400/431/501/505 and the connection closes", async () => {
  await withServer(async (address) => {
    const cases: [string, number][] = [
      ["GET / HTTP/1.1\r\n\r\n", 400], // no Host
      ["GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400],
      ["GET / HTTP/1.1\r\nHost: a@b\r\n\r\n", 400],
      ["GET http://evil/ HTTP/1.1\r\nHost: a\r\n\r\n", 400],
      ["GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", 400],
      ["PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400],
      ["PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 2\r\n\r\n", 400],
      ["PUT / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 501],
      ["PUT / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400],
      ["GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc", 400],
      ["GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505],
      [`GET / HTTP/1.1\r\nHost: a\r\nX: ${"y".repeat(20_000)}\r\n\r\n`, 431],
    ];
    for (const [raw, status] of cases) {
      const answer = await exchange(address, raw);
      assert.deepEqual(statuses(answer), [status], JSON.stringify(raw.slice(0, 80)));
      assert.match(answer, /connection: close/);
      assert.match(answer, /\{\s*"error":\s*"Cannot /);
    }
  });
});

Deno.test("HttpServer: slow head, idle keep-alive and trickled body are closed by their deadlines", async () => {
  const limits = { headerTimeoutMs: 200, idleTimeoutMs: 200, bodyTimeoutMs: 300 };
  await withServer(async (address) => {
    // Half a head, then nothing: closed without an answer.
    assert.equal(await exchange(address, "GET / HTTP/1.1\r\nHost: a\r\n"), "");
    // One request, then nothing: answered, then closed.
    assert.deepEqual(statuses(await exchange(address, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")), [
      200,
    ]);
    // A body of 100 bytes sent one byte at a time, far slower than its deadline allows.
    const conn = await connectTo(address);
    try {
      await writeAll(
        conn,
        encoder.encode("PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n"),
      );
      let sent = 0;
      const trickle = (async () => {
        for (; sent < 100; sent++) {
          await writeAll(conn, encoder.encode("x"));
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      })().catch(() => {});
      const answer = await withTimeout(readAll(conn), 5_000, "the trickled body closed");
      assert.equal(decoder.decode(answer), "");
      assert.ok(sent < 100, `the whole body arrived (${sent} bytes)`);
      await trickle;
    } finally {
      closeQuietly(conn);
    }
  }, limits);
});

Deno.test("HttpServer: at the cap the longest-waiting silent connection makes room, not a kept one", async () => {
  await withServer(async (address, server) => {
    // A keep-alive client, answered once, then two that never speak.
    const kept = await connectTo(address);
    await writeAll(kept, encoder.encode("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
    const buffer = new Uint8Array(4096);
    const n = await withTimeout(kept.read(buffer), 5_000, "the kept client's answer");
    assert.match(decoder.decode(buffer.subarray(0, n ?? 0)), /^HTTP\/1\.1 200 /);
    const silent = [await connectTo(address), await connectTo(address)];
    try {
      // A fourth is served; the first silent one, waiting longest, was closed for it.
      const answer = await exchange(
        address,
        "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
      );
      assert.deepEqual(statuses(answer), [200]);
      const closed = await withTimeout(readAll(silent[0]!), 5_000, "the first silent one closed");
      assert.equal(closed.byteLength, 0);
      assert.ok(server.connections <= 3);
      // The kept client still has its connection.
      await writeAll(
        kept,
        encoder.encode("GET /again HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"),
      );
      assert.match(decoder.decode(await withTimeout(readAll(kept), 5_000, "again")), /\/again/);
    } finally {
      for (const conn of [kept, ...silent]) closeQuietly(conn);
    }
  }, { maxConnections: 3 });
});
