import type { Stream } from "@libp2p/interface";
import { BRIDGE_HIGH_WATER_BYTES, BRIDGE_READ_BUFFER_BYTES } from "./constants.ts";

/** Bytes moved by one bridged connection. */
export interface BridgeResult {
  /** Bytes read from the TCP connection and sent into the stream. */
  tcpToStream: number;
  /** Bytes received from the stream and written to the TCP connection. */
  streamToTcp: number;
  /** Whether either side ended with a reset or an error rather than a clean close. */
  reset: boolean;
}

/** Options of {@linkcode bridge}. */
export interface BridgeOptions {
  /** Bytes buffered towards a slow TCP reader before the stream is paused. @default {1 MiB} */
  highWaterBytes?: number;
  /**
   * Where client bytes come from; `null` is EOF. @default {reads `conn` in 64 KiB chunks}
   * The balancer passes its prefetch buffer here, so nothing read before the tunnel existed
   * is lost.
   */
  read?: () => Promise<Uint8Array | null>;
  /** Called as bytes move, for live counters. */
  onBytes?: (direction: "tcpToStream" | "streamToTcp", bytes: number) => void;
}

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  for (let offset = 0; offset < data.byteLength;) {
    offset += await conn.write(data.subarray(offset));
  }
}

/** Reads one chunk from `conn` into a fresh buffer; `null` at EOF. */
export async function readChunk(conn: Deno.Conn): Promise<Uint8Array | null> {
  // A fresh buffer per read: send() keeps a reference until the muxer has written it.
  const buffer = new Uint8Array(BRIDGE_READ_BUFFER_BYTES);
  const n = await conn.read(buffer);
  return n === null ? null : buffer.subarray(0, n);
}

/**
 * Resolves at the stream's next `drain` (or `close`). Not `stream.onDrain()`: libp2p keeps
 * the first drain promise once it has resolved (@libp2p/utils 7.4.1 never clears
 * `onDrainPromise`), so every later `await stream.onDrain()` returns at once and a fast
 * sender fills the write buffer without bound.
 */
function drained(stream: Stream): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      stream.removeEventListener("drain", done);
      stream.removeEventListener("close", done);
      resolve();
    };
    stream.addEventListener("drain", done);
    stream.addEventListener("close", done);
  });
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // already closed
  }
}

/** TCP → stream: sends what the client writes; its FIN becomes the stream's half-close. */
async function pumpTcpToStream(
  conn: Deno.Conn,
  stream: Stream,
  result: BridgeResult,
  options: BridgeOptions,
): Promise<void> {
  const send = async (chunk: Uint8Array): Promise<boolean> => {
    if (stream.writeStatus !== "writable") return false;
    result.tcpToStream += chunk.byteLength;
    options.onBytes?.("tcpToStream", chunk.byteLength);
    if (!stream.send(chunk)) await drained(stream);
    return true;
  };
  const read = options.read ?? (() => readChunk(conn));
  try {
    while (true) {
      const chunk = await read();
      if (chunk === null) break;
      if (!await send(chunk)) return;
    }
    if (stream.writeStatus === "writable") await stream.close();
  } catch (err) {
    if (stream.status === "open") {
      result.reset = true;
      stream.abort(err instanceof Error ? err : new Error(String(err)));
    }
  }
}

/** Stream → TCP: writes with bounded buffering (the stream is paused above the high water). */
function pumpStreamToTcp(
  stream: Stream,
  conn: Deno.Conn,
  result: BridgeResult,
  options: BridgeOptions,
): Promise<void> {
  const highWater = options.highWaterBytes ?? BRIDGE_HIGH_WATER_BYTES;
  return new Promise((resolve) => {
    let queued = 0;
    let failed = false;
    let chain = Promise.resolve();
    const write = async (data: Uint8Array): Promise<void> => {
      await writeAll(conn, data);
      result.streamToTcp += data.byteLength;
      options.onBytes?.("streamToTcp", data.byteLength);
    };
    stream.addEventListener("message", (event) => {
      const data = event.data;
      queued += data.byteLength;
      if (queued > highWater) {
        // Deferred: a pause() inside a 'message' dispatched by resume() is undone by libp2p.
        queueMicrotask(() => {
          if (queued > highWater && stream.readStatus === "readable") stream.pause();
        });
      }
      chain = chain.then(async () => {
        if (failed) return;
        try {
          if (data instanceof Uint8Array) await write(data);
          else for (const part of data) await write(part);
        } catch (err) {
          failed = true;
          result.reset = true;
          stream.abort(err instanceof Error ? err : new Error(String(err)));
          return;
        }
        queued -= data.byteLength;
        if (queued <= highWater / 2 && stream.readStatus === "paused") stream.resume();
      });
    });
    stream.addEventListener("end", () => {
      chain = chain.then(() => {
        if (!failed) return conn.closeWrite();
      }).catch(() => {});
    });
    stream.addEventListener("close", () => {
      void chain.then(() => resolve());
    }, { once: true });
  });
}

/**
 * Pipes a TCP connection and a libp2p stream into each other until both directions end:
 * backpressure both ways (a slow reader on either side bounds the memory used), half-close
 * forwarded both ways, and a reset on one side closes the other.
 *
 * @param conn The TCP connection; closed when the bridge ends.
 * @param stream The libp2p stream.
 * @param options Buffering, early data and byte counters.
 * @returns What moved, once both directions have ended.
 */
export async function bridge(
  conn: Deno.Conn,
  stream: Stream,
  options: BridgeOptions = {},
): Promise<BridgeResult> {
  const result: BridgeResult = { tcpToStream: 0, streamToTcp: 0, reset: false };
  if ("setNoDelay" in conn) (conn as Deno.TcpConn).setNoDelay(true);
  stream.addEventListener("close", (event) => {
    // A reset stream unblocks the pending conn.read() by closing the socket.
    if (event.error !== undefined) {
      result.reset = true;
      closeQuietly(conn);
    }
  }, { once: true });
  const down = pumpStreamToTcp(stream, conn, result, options);
  await pumpTcpToStream(conn, stream, result, options);
  await down;
  closeQuietly(conn);
  return result;
}
