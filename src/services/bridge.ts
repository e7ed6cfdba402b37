import type { Stream } from "@libp2p/interface";
import { BRIDGE_HIGH_WATER_BYTES, BRIDGE_READ_BUFFER_BYTES } from "./constants.ts";
import { SlabReader } from "./slab_reader.ts";
import type { TunnelBuffers } from "./tunnel_buffers.ts";
import { writeParts } from "./write_parts.ts";
import { resetConnection } from "./tcp_reset.ts";
import { getLogger } from "@logtape/logtape";
import { closeQuietly, writeAll } from "../node/tcp_io.ts";

const log = getLogger(["p2p", "tunnel"]);

/** Bytes moved by one bridged connection. */
export interface BridgeResult {
  /** Bytes read from the TCP connection and sent into the stream. */
  tcpToStream: number;
  /** Bytes received from the stream and written to the TCP connection. */
  streamToTcp: number;
  /** Whether either side ended with a reset or an error rather than a clean close. */
  reset: boolean;
  /**
   * Whether the stream ended without the remote closing it: its connection went away (a
   * relay ended the circuit at its limit). The TCP connection is then reset, not closed,
   * so the client never mistakes the truncated stream for a complete one.
   */
  cut: boolean;
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
  /**
   * The network's reused buffers (`network.shared(TUNNEL_BUFFERS)`): the default reader's
   * full-size slabs come back once the cipher sealed them, and batches of a stream's pieces
   * are written from pooled buffers. @default {new buffers each time}
   */
  buffers?: TunnelBuffers;
  /** Called as bytes move, for live counters. */
  onBytes?: (direction: "tcpToStream" | "streamToTcp", bytes: number) => void;
}

/**
 * Reads one chunk from `conn` into a fresh buffer; `null` at EOF.
 *
 * @param conn The connection to read.
 * @returns The bytes read, or `null` at EOF.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { readChunk } from "./bridge.ts";
 *
 * const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
 * const server = await listener.accept();
 * try {
 *   await client.write(new TextEncoder().encode("ping"));
 *   await client.closeWrite();
 *   assert.equal(new TextDecoder().decode((await readChunk(server))!), "ping");
 *   assert.equal(await readChunk(server), null);
 * } finally {
 *   client.close();
 *   server.close();
 *   listener.close();
 * }
 * ```
 */
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

/** What one direction of a bridge tells the other. */
interface BridgeEnds {
  /** TCP → stream is over: the TCP side's FIN was read (nothing is left unread on it). */
  tcpToStreamDone: boolean;
}

/** TCP → stream: sends what the client writes; its FIN becomes the stream's half-close. */
async function pumpTcpToStream(
  conn: Deno.Conn,
  stream: Stream,
  result: BridgeResult,
  options: BridgeOptions,
  ends: BridgeEnds,
): Promise<void> {
  const send = async (chunk: Uint8Array): Promise<boolean> => {
    if (stream.writeStatus !== "writable") return false;
    result.tcpToStream += chunk.byteLength;
    options.onBytes?.("tcpToStream", chunk.byteLength);
    if (!stream.send(chunk)) await drained(stream);
    return true;
  };
  const read = options.read ?? new SlabReader(conn, options.buffers?.slabs).read;
  try {
    while (true) {
      const chunk = await read();
      if (chunk === null) break;
      if (!await send(chunk)) return;
    }
    if (stream.writeStatus === "writable") await stream.close();
    ends.tcpToStreamDone = true;
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
  ends: BridgeEnds,
): Promise<void> {
  const highWater = options.highWaterBytes ?? BRIDGE_HIGH_WATER_BYTES;
  return new Promise((resolve) => {
    let queued = 0;
    let failed = false;
    let chain = Promise.resolve();
    // Resolves once everything queued so far is written (the last step of the direction).
    const finish = (): void => void chain.then(() => resolve());
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
          else await writeParts(data, write, options.buffers?.writeBatches);
        } catch (err) {
          failed = true;
          result.reset = true;
          stream.abort(err instanceof Error ? err : new Error(String(err)));
          finish();
          return;
        }
        queued -= data.byteLength;
        if (queued <= highWater / 2 && stream.readStatus === "paused") {
          try {
            // Also after the stream closed: what it buffered while paused is still ours.
            stream.resume();
          } catch {
            // closing: its buffer is gone
          }
        }
      });
    });
    let ended = false;
    // A remote FIN comes as 'remoteCloseWrite' before 'end'; a connection that went away
    // (a relay ending the circuit) gives 'end' alone.
    let remoteClosed = stream.remoteWriteStatus === "closed";
    stream.addEventListener("remoteCloseWrite", () => (remoteClosed = true), { once: true });
    const end = (): void => {
      if (ended) return;
      ended = true;
      // The transport went away: the stream closed at once, without the remote's FIN.
      if (!remoteClosed && (stream.status === "closed" || stream.status === "aborted")) {
        failed = true;
        result.reset = true;
        result.cut = true;
        // At once, while the socket is surely ours: once closed, its descriptor number may
        // belong to another connection.
        const reset = resetConnection(conn);
        log.warning(
          "Tunnel cut after {bytes} bytes from the peer: its connection closed under it (a relay's limit?); the TCP connection was {how}",
          { bytes: result.streamToTcp, how: reset ? "reset" : "closed" },
        );
        chain = chain.catch(() => {});
        finish();
        return;
      }
      chain = chain.then(() => {
        // Once the other direction is over, the bridge closes the socket as soon as this one
        // ends, and Deno's close shuts the socket down itself (our FIN; nothing is left
        // unread, so no reset): an asynchronous shutdown first is an operation for nothing.
        if (!failed && !ends.tcpToStreamDone) return conn.closeWrite();
      }).catch(() => {});
      finish();
    };
    // 'end' comes once the remote closed its side AND every buffered byte was delivered —
    // also when the stream closed meanwhile with data still held by a pause(). 'close'
    // alone ends this direction only on a reset (the buffer is then gone).
    stream.addEventListener("end", end);
    stream.addEventListener("close", (event) => {
      if (event.error !== undefined) finish();
    }, { once: true });
    // The caller may have awaited something (the target dial) before bridging: 'end' and
    // 'close' may have fired already. Checked after the microtask in which libp2p hands the
    // buffered data to the 'message' listener above, so that data is queued first.
    queueMicrotask(() => {
      const readDone = stream.remoteWriteStatus === "closed" || stream.readStatus === "closed";
      if (readDone && stream.readBufferLength === 0) end();
      if (stream.status === "aborted" || stream.status === "reset") finish();
    });
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
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { createLibp2pNode } from "../node/create_node.ts";
 * import { bridge } from "./bridge.ts";
 * import { TunnelDialer } from "./tunnel.ts";
 * import { SERVICE_PROTOCOL } from "./constants.ts";
 * import { generateTokenConfig } from "../token/token.ts";
 *
 * const options = {
 *   token: generateTokenConfig(),
 *   listen: ["/ip4/127.0.0.1/tcp/0"],
 *   bootstrapPeers: [],
 *   mdns: false,
 * };
 * const server = await createLibp2pNode(options);
 * const client = await createLibp2pNode(options);
 * await server.start();
 * await client.start();
 * // A local TCP service that greets each client.
 * const backend = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const greeter = (async () => {
 *   for await (const conn of backend) await conn.write(new TextEncoder().encode("hello"));
 * })();
 * try {
 *   // Each service stream is piped into a new connection to the backend.
 *   await server.handle(SERVICE_PROTOCOL, async (stream) => {
 *     await bridge(await Deno.connect({ hostname: "127.0.0.1", port: backend.addr.port }), stream);
 *   });
 *   const multiaddrs = server.getMultiaddrs().map(String);
 *   const target = { peerId: server.peerId.toString(), multiaddrs };
 *   const stream = await new TunnelDialer(client).openStream(target);
 *   for await (const chunk of stream) {
 *     assert.equal(new TextDecoder().decode(chunk.subarray()), "hello");
 *     break;
 *   }
 * } finally {
 *   await client.stop();
 *   await server.stop();
 *   backend.close();
 *   await greeter;
 * }
 * ```
 */
export async function bridge(
  conn: Deno.Conn,
  stream: Stream,
  options: BridgeOptions = {},
): Promise<BridgeResult> {
  const result: BridgeResult = { tcpToStream: 0, streamToTcp: 0, reset: false, cut: false };
  try {
    if ("setNoDelay" in conn) (conn as Deno.TcpConn).setNoDelay(true);
  } catch {
    // Closed already (the owner stopping): the pumps see it at once.
  }
  stream.addEventListener("close", (event) => {
    // A reset stream unblocks the pending conn.read() by closing the socket.
    if (event.error !== undefined) {
      result.reset = true;
      closeQuietly(conn);
    }
  }, { once: true });
  if (stream.status === "aborted" || stream.status === "reset") {
    // Reset before the bridge was attached (its 'close' event has fired already).
    result.reset = true;
    closeQuietly(conn);
  }
  try {
    const ends: BridgeEnds = { tcpToStreamDone: false };
    const down = pumpStreamToTcp(stream, conn, result, options, ends);
    await pumpTcpToStream(conn, stream, result, options, ends);
    await down;
  } finally {
    closeQuietly(conn);
  }
  return result;
}
