import "../_helpers/mod.ts";
import assert from "node:assert/strict";
import type { Logger, MultiaddrConnection } from "@libp2p/interface";
import {
  alignedOffer,
  type BoundaryReads,
  quietAfter,
  remoteMultiaddr,
  toMultiaddrConnection,
  writeBatches,
} from "../../src/node/deno_tcp_connection.ts";
import {
  DENO_TCP_READ_SLAB,
  NOISE_FULL_WIRE_BYTES,
  NOISE_MAX_MESSAGE_BYTES,
} from "../../src/node/deno_tcp_constants.ts";
import { BufferPool } from "../../src/node/buffer_pool.ts";
import { Uint8ArrayList } from "uint8arraylist";
import { waitFor } from "../_helpers/mod.ts";
import { loopbackPair, readToEnd, writeAll } from "../_helpers/tcp.ts";

/** A logger that prints nothing. */
function silent(): Logger {
  const log = Object.assign(() => {}, {
    enabled: false,
    error: Object.assign(() => {}, { enabled: false }),
    trace: Object.assign(() => {}, { enabled: false }),
    newScope: () => log,
  });
  return log as unknown as Logger;
}

/** An accepted socket as the transport's connection, giving sealed buffers back to `pool`. */
function inbound(
  server: Deno.TcpConn,
  pool: BufferPool,
  alignReads = false,
): MultiaddrConnection {
  return toMultiaddrConnection({
    conn: server,
    direction: "inbound",
    remoteAddr: remoteMultiaddr(server),
    log: silent(),
    options: {
      inactivityTimeout: 0,
      readSlabBytes: DENO_TCP_READ_SLAB,
      writeHighWater: 1024 * 1024,
      reusePort: false,
      sealBuffers: pool,
      alignReads,
      writeBatches: writeBatches(),
    },
  });
}

/** Every chunk the connection hands up, as the bytes and the buffer behind them. */
function collect(maConn: MultiaddrConnection): { chunks: Uint8Array[]; bytes: () => number } {
  const chunks: Uint8Array[] = [];
  maConn.addEventListener("message", (event) => {
    const data = event.data;
    chunks.push(data instanceof Uint8Array ? data : data.subarray());
  });
  return { chunks, bytes: () => chunks.reduce((n, c) => n + c.byteLength, 0) };
}

Deno.test("denoTcp reads: a quiet connection hands up copies; a stream arrives in shared slabs", async () => {
  const { client, server, close } = await loopbackPair();
  const maConn = inbound(server, new BufferPool(NOISE_MAX_MESSAGE_BYTES, 0));
  try {
    const { chunks, bytes } = collect(maConn);
    // Small messages, one at a time: each kept chunk owns a buffer of its own size, so a
    // reader that keeps one (a gossip message, a peer record) keeps only that.
    for (let i = 1; i <= 5; i++) {
      await writeAll(client, new Uint8Array(100).fill(i));
      await waitFor(() => bytes() === 100 * i, { message: `small message ${i}` });
    }
    assert.ok(chunks.every((c) => c.buffer.byteLength === c.byteLength));
    assert.deepEqual(chunks.map((c) => c[0]), [1, 2, 3, 4, 5]);

    // A stream: once a read fills the small buffer, reads go to slabs, several chunks each.
    chunks.length = 0;
    const total = 8 * DENO_TCP_READ_SLAB;
    await writeAll(client, new Uint8Array(total).fill(7));
    await waitFor(() => bytes() === total, { message: "the stream's bytes" });
    assert.ok(chunks.every((c) => c.every((b) => b === 7)));
    const slabs = chunks.filter((c) => c.buffer.byteLength === DENO_TCP_READ_SLAB);
    assert.ok(slabs.length > 0, "the stream was read into slabs");
    assert.ok(chunks.every((c) => c.buffer.byteLength <= DENO_TCP_READ_SLAB));
  } finally {
    maConn.abort(new Error("test over"));
    close();
  }
});

Deno.test("denoTcp writes: a lent message buffer goes back to its pool once written or copied", async () => {
  const { client, server, close } = await loopbackPair();
  const pool = new BufferPool(NOISE_MAX_MESSAGE_BYTES, 4);
  const maConn = inbound(server, pool);
  let received = 0;
  const reading = readToEnd(client, (chunk) => void (received += chunk.byteLength));
  try {
    // One message alone: written from its own buffer, which comes back after the write.
    const lent = pool.take().fill(1);
    maConn.send(new Uint8ArrayList(lent));
    assert.equal(pool.free, 0, "not back before it is written");
    await waitFor(() => pool.free === 1, { message: "the written buffer back" });
    assert.equal(pool.take(), lent);
    pool.giveBack(lent);

    // Two messages and a small frame: copied into one batch buffer, each back at the copy.
    const [first, second] = [pool.take().fill(2), pool.take().fill(3)];
    const small = new Uint8Array(12).fill(4);
    maConn.send(new Uint8ArrayList(small, first, second));
    await waitFor(() => pool.free === 2, { message: "the copied buffers back" });
    // A buffer the pool never lent (a relayed frame, say) is not taken in.
    maConn.send(new Uint8ArrayList(new Uint8Array(NOISE_MAX_MESSAGE_BYTES)));
    const total = 4 * NOISE_MAX_MESSAGE_BYTES + 12;
    await waitFor(() => received === total, { message: "every byte written" });
    assert.equal(pool.free, 2);
  } finally {
    maConn.abort(new Error("test over"));
    close();
    await reading.catch(() => 0);
  }
});

Deno.test("alignedOffer: reads end where the message being read ends, then after whole messages", () => {
  const full = NOISE_FULL_WIRE_BYTES;
  assert.equal(alignedOffer(DENO_TCP_READ_SLAB, 0), 2 * full, "a fresh slab: two whole messages");
  assert.equal(alignedOffer(DENO_TCP_READ_SLAB, 1000), 1000 + full);
  assert.equal(alignedOffer(full + 10, 0), full);
  assert.equal(alignedOffer(500, 1000), 500, "the message ends beyond the slab: all of it");
  assert.equal(alignedOffer(500, 0), 500, "no whole message fits: all of it, never 0");
  assert.equal(alignedOffer(DENO_TCP_READ_SLAB, undefined), DENO_TCP_READ_SLAB, "unknown: all");
});

Deno.test("quietAfter: a short read goes quiet, one that got all of a small offer does not", () => {
  assert.equal(quietAfter(1000, 65_537), true, "less than offered and than the small buffer");
  assert.equal(quietAfter(1000, 1000), false, "an aligned read got the rest of its message");
  assert.equal(quietAfter(20_000, 65_537), false, "more than the small buffer holds");
});

Deno.test("denoTcp reads: aligned, a streaming connection's reads end where its reader says", async () => {
  const { client, server, close } = await loopbackPair();
  const maConn = inbound(server, new BufferPool(NOISE_MAX_MESSAGE_BYTES, 0), true);
  try {
    // The reader is always 1,000 bytes before a message's end: each slab read offers 1,000
    // bytes and one whole message, never the whole 128 KiB slab.
    (maConn as unknown as BoundaryReads).readBoundary = () => 1000;
    const { chunks, bytes } = collect(maConn);
    const total = 8 * DENO_TCP_READ_SLAB;
    await writeAll(client, new Uint8Array(total).fill(9));
    await waitFor(() => bytes() === total, { message: "the stream's bytes" });
    const slabReads = chunks.filter((c) => c.buffer.byteLength === DENO_TCP_READ_SLAB);
    assert.ok(slabReads.length > 0, "the stream was read into slabs");
    const longest = Math.max(...slabReads.map((c) => c.byteLength));
    assert.ok(longest <= 1000 + NOISE_FULL_WIRE_BYTES, `a read of ${longest} bytes`);
    assert.ok(chunks.every((c) => c.every((b) => b === 9)));
  } finally {
    maConn.abort(new Error("test over"));
    close();
  }
});
