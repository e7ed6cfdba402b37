/**
 * The connection of {@linkcode denoTcp}: a `Deno.TcpConn` as a libp2p `MultiaddrConnection`,
 * with write coalescing and slab reads while bytes stream (see `deno_tcp.ts`).
 *
 * @module
 */
import { type Logger, type MultiaddrConnection, TimeoutError } from "@libp2p/interface";
import { AbstractMultiaddrConnection, ipPortToMultiaddr } from "@libp2p/utils";
import type { SendResult } from "@libp2p/utils";
import type { Multiaddr } from "@multiformats/multiaddr";
import type { Uint8ArrayList } from "uint8arraylist";
import {
  DENO_TCP_MAX_WRITE_BATCH,
  DENO_TCP_MIN_READ,
  DENO_TCP_SCRATCH_POOL,
  DENO_TCP_SMALL_BATCH,
  DENO_TCP_SMALL_READ,
  DENO_TCP_WRITE_LOW_WATER,
  NOISE_FULL_WIRE_BYTES,
} from "./deno_tcp_constants.ts";
import { closeQuietly } from "./tcp_io.ts";
import { BufferPool } from "./buffer_pool.ts";

/** Options of {@linkcode denoTcp}. */
export interface DenoTcpOptions {
  /** Close a socket after this long without a byte read or written, in ms. @default {120000} */
  inactivityTimeout?: number;
  /** Size of a connection's read slab (a read gets at most this). @default {128 KiB} */
  readSlabBytes?: number;
  /** Queued bytes above which the connection asks libp2p to wait for `drain`. @default {1 MiB} */
  writeHighWater?: number;
  /**
   * Outgoing IPv4 connections leave from the port of a wildcard IPv4 listener (SO_REUSEPORT,
   * go-libp2p's default): NATs then map dials and listener alike. @default {false}
   */
  reusePort?: boolean;
  /**
   * The pool the node's cipher seals full messages into: a written message's buffer goes
   * back to it. @default {a pool of its own, which lends nothing}
   */
  sealBuffers?: BufferPool;
  /**
   * Slab reads end where a full noise message would (as the reader's `readBoundary` says), so
   * that a bulk stream's messages arrive whole instead of cut in two by a read and copied
   * together. @default {false}
   */
  alignReads?: boolean;
}

/**
 * A connection whose slab reads can end where its reader's next message does: the reader
 * (the noise framing) sets `readBoundary` to tell how many bytes are left of the message it
 * is in (0 between messages, `undefined` when it cannot tell).
 */
export interface BoundaryReads {
  /** Bytes to the end of the message being read, set by the reader. */
  readBoundary: (() => number | undefined) | undefined;
}

/**
 * How much of a slab's free `tail` to offer a read: as many bytes as end on a message
 * boundary if full noise messages follow (`toBoundary` bytes, then whole messages), else all.
 *
 * @param tail Free bytes of the slab.
 * @param toBoundary Bytes left of the message being read; `undefined` when unknown.
 * @returns The bytes to offer, at least 1.
 */
export function alignedOffer(tail: number, toBoundary: number | undefined): number {
  if (toBoundary === undefined || toBoundary > tail) return tail;
  const offer = toBoundary +
    Math.floor((tail - toBoundary) / NOISE_FULL_WIRE_BYTES) * NOISE_FULL_WIRE_BYTES;
  return offer === 0 ? tail : offer;
}

export interface ConnInit {
  conn: Deno.TcpConn;
  direction: "inbound" | "outbound";
  remoteAddr: Multiaddr;
  log: Logger;
  options: ConnectionOptions;
}

/** Best effort: a socket that is already closed (or not TCP) refuses the options. */
export function tune(conn: Deno.TcpConn): void {
  try {
    conn.setNoDelay(true);
    conn.setKeepAlive(true);
  } catch {
    // closed already: the first read reports it
  }
}

export function isClosedError(err: unknown): boolean {
  return err instanceof Deno.errors.BadResource || err instanceof Deno.errors.Interrupted;
}

/**
 * Write batch buffers of one transport's connections, reused (a fresh buffer per write would
 * cost more than the copy): large ones for bulk, small ones for the usual few frames.
 */
export interface WriteBatches {
  /** {@linkcode DENO_TCP_SMALL_BATCH} bytes each. */
  small: BufferPool;
  /** {@linkcode DENO_TCP_MAX_WRITE_BATCH} bytes each. */
  large: BufferPool;
}

/** Empty pools of write batch buffers, for one transport. */
export function writeBatches(): WriteBatches {
  return {
    small: new BufferPool(DENO_TCP_SMALL_BATCH, DENO_TCP_SCRATCH_POOL),
    large: new BufferPool(DENO_TCP_MAX_WRITE_BATCH, DENO_TCP_SCRATCH_POOL),
  };
}

/**
 * Whether a slab read of `n` bytes out of `offered` says the stream has gone quiet (later
 * reads go to the small buffer): it got less than the small buffer holds, and less than it was
 * offered. An aligned read may be offered only the rest of a message, and getting all of it
 * says nothing about the stream slowing down.
 *
 * @param n Bytes the read got.
 * @param offered Bytes it was offered.
 * @returns `true` when the connection should read small again.
 */
export function quietAfter(n: number, offered: number): boolean {
  return n < Math.min(offered, DENO_TCP_SMALL_READ);
}

/** What the connections of one transport share: its options and its write batch buffers. */
export type ConnectionOptions = Required<DenoTcpOptions> & { writeBatches: WriteBatches };

/** A `Deno.TcpConn` as a libp2p `MultiaddrConnection`. */
class DenoTcpConnection extends AbstractMultiaddrConnection implements BoundaryReads {
  readBoundary: (() => number | undefined) | undefined = undefined;
  #conn: Deno.TcpConn;
  #opts: ConnectionOptions;
  /** Bytes handed over by libp2p and not yet written, in order. */
  #queue: Uint8Array[] = [];
  #queued = 0;
  #writing = false;
  #needsDrain = false;
  /** Set once the socket is (being) closed by us: read/write errors after it are expected. */
  #closing = false;
  #flushed: (() => void)[] = [];
  #paused = false;
  #resumeRead: (() => void) | undefined;
  #lastActivity = Date.now();
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(init: ConnInit) {
    super({
      log: init.log,
      direction: init.direction,
      remoteAddr: init.remoteAddr,
      inactivityTimeout: init.options.inactivityTimeout,
    });
    this.#conn = init.conn;
    this.#opts = init.options;
    this.#armTimer(this.#opts.inactivityTimeout);
    void this.#readLoop();
  }

  // -- timeouts --------------------------------------------------------------------------

  #armTimer(ms: number): void {
    if (this.#opts.inactivityTimeout <= 0) return;
    const timer = setTimeout(this.#onTimer, ms);
    Deno.unrefTimer(timer);
    this.#timer = timer;
  }

  #onTimer = (): void => {
    this.#timer = undefined;
    if (this.status !== "open" && this.status !== "closing") return;
    const idle = Date.now() - this.#lastActivity;
    if (idle < this.#opts.inactivityTimeout) {
      this.#armTimer(this.#opts.inactivityTimeout - idle);
      return;
    }
    this.log("tcp timeout", this.remoteAddr);
    this.abort(new TimeoutError("TCP socket inactivity timeout"));
  };

  #stopTimer(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  // -- reading ---------------------------------------------------------------------------

  /**
   * Reads small into one reused buffer and hands up copies; streams into slabs, zero-copy. A
   * view that a reader keeps (a gossip message, a peer record) pins the whole buffer it points
   * into: with slabs only, every quiet connection held 128 KiB or more.
   */
  async #readLoop(): Promise<void> {
    const slabBytes = this.#opts.readSlabBytes;
    const small = new Uint8Array(Math.min(DENO_TCP_SMALL_READ, slabBytes));
    /** Set while bytes stream: reads go into its free tail. */
    let slab: Uint8Array | undefined;
    let offset = 0;
    try {
      while (true) {
        if (this.#paused) {
          await new Promise<void>((resolve) => (this.#resumeRead = resolve));
          continue;
        }
        if (slab !== undefined && slabBytes - offset < DENO_TCP_MIN_READ) {
          // Views handed up keep the old slab alive until libp2p has consumed them.
          slab = new Uint8Array(slabBytes);
          offset = 0;
        }
        const offered = slab === undefined ? small.byteLength : this.#offer(slabBytes - offset);
        const n = await this.#conn.read(
          slab === undefined ? small : slab.subarray(offset, offset + offered),
        );
        if (n === null) break;
        if (n === 0) continue;
        this.#lastActivity = Date.now();
        if (slab === undefined) {
          this.onData(small.slice(0, n));
          if (n === small.byteLength) {
            slab = new Uint8Array(slabBytes);
            offset = 0;
          }
          continue;
        }
        const chunk = slab.subarray(offset, offset + n);
        offset += n;
        if (quietAfter(n, offered)) slab = undefined;
        this.onData(chunk);
      }
    } catch (err) {
      if (this.#closing || isClosedError(err) && this.status !== "open") return;
      this.log("tcp error %s %e", this.remoteAddr, err);
      this.abort(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    // The remote sent its FIN. Like @libp2p/tcp (allowHalfOpen: false): the connection is
    // over; what we still have queued is written, then our side closes too.
    this.log("tcp end %s", this.remoteAddr);
    if (this.status === "open" || this.status === "closing") {
      this.onTransportClosed();
    }
    await this.#whenFlushed();
    this.#shutdown();
  }

  #offer(tail: number): number {
    return this.#opts.alignReads ? alignedOffer(tail, this.readBoundary?.()) : tail;
  }

  override sendPause(): void {
    this.#paused = true;
  }

  override sendResume(): void {
    this.#paused = false;
    const resume = this.#resumeRead;
    this.#resumeRead = undefined;
    resume?.();
  }

  // -- writing ---------------------------------------------------------------------------

  override sendData(data: Uint8ArrayList): SendResult {
    for (const buf of data) {
      if (buf.byteLength === 0) continue;
      this.#queue.push(buf);
      this.#queued += buf.byteLength;
    }
    if (!this.#writing && this.#queued > 0) {
      this.#writing = true;
      // Deferred to the end of this turn, so that every frame queued meanwhile joins the
      // same write.
      queueMicrotask(() => void this.#flush());
    }
    const canSendMore = this.#queued < this.#opts.writeHighWater;
    if (!canSendMore) this.#needsDrain = true;
    return { sentBytes: data.byteLength, canSendMore };
  }

  /**
   * Takes queued pieces as one buffer to write: a single piece as it is, several copied into
   * `scratch` (a pooled buffer, warm in cache: allocating a fresh one per write costs more
   * than the copy). Pieces of at least a scratch's size are written on their own.
   */
  #takeBatch(scratch: Uint8Array): Uint8Array {
    const first = this.#queue[0]!;
    if (
      this.#queue.length === 1 || first.byteLength + this.#queue[1]!.byteLength > scratch.byteLength
    ) {
      this.#queue.shift();
      return first;
    }
    let at = 0;
    let count = 0;
    for (const buf of this.#queue) {
      if (at + buf.byteLength > scratch.byteLength) break;
      scratch.set(buf, at);
      at += buf.byteLength;
      count++;
      // Copied: a sealed message's buffer is free again.
      this.#opts.sealBuffers.giveBack(buf);
    }
    this.#queue.splice(0, count);
    return scratch.subarray(0, at);
  }

  async #flush(): Promise<void> {
    // Sized by what is queued when the write starts; what arrives meanwhile follows.
    const batches = this.#queued <= DENO_TCP_SMALL_BATCH
      ? this.#opts.writeBatches.small
      : this.#opts.writeBatches.large;
    const scratch = batches.take();
    try {
      while (this.#queue.length > 0) {
        const batch = this.#takeBatch(scratch);
        for (let offset = 0; offset < batch.byteLength;) {
          offset += await this.#conn.write(batch.subarray(offset));
        }
        // Written: a sealed message's buffer is free again (the scratch is not the pool's).
        this.#opts.sealBuffers.giveBack(batch);
        this.#lastActivity = Date.now();
        this.#queued -= batch.byteLength;
        if (this.#needsDrain && this.#queued <= DENO_TCP_WRITE_LOW_WATER) {
          this.#needsDrain = false;
          this.safeDispatchEvent("drain");
        }
      }
    } catch (err) {
      this.#queue = [];
      this.#queued = 0;
      if (!this.#closing) {
        this.log("tcp write error %s %e", this.remoteAddr, err);
        this.abort(err instanceof Error ? err : new Error(String(err)));
      }
    } finally {
      batches.giveBack(scratch);
      this.#writing = false;
      const waiters = this.#flushed;
      this.#flushed = [];
      for (const resolve of waiters) resolve();
    }
  }

  #whenFlushed(): Promise<void> {
    if (!this.#writing) return Promise.resolve();
    return new Promise((resolve) => this.#flushed.push(resolve));
  }

  // -- closing ---------------------------------------------------------------------------

  #shutdown(): void {
    if (this.#closing) return;
    this.#closing = true;
    this.#stopTimer();
    this.sendResume(); // a paused read loop must see the closed socket and end
    closeQuietly(this.#conn);
  }

  override async sendClose(): Promise<void> {
    await this.#whenFlushed();
    this.#shutdown();
  }

  override sendReset(): void {
    this.#queue = [];
    this.#queued = 0;
    this.#shutdown();
  }
}

export function toMultiaddrConnection(init: ConnInit): MultiaddrConnection {
  return new DenoTcpConnection(init);
}

export function remoteMultiaddr(conn: Deno.TcpConn): Multiaddr {
  const addr = conn.remoteAddr;
  let host = addr.hostname;
  // An IPv4 client of a dual-stack socket shows as ::ffff:a.b.c.d.
  if (host.startsWith("::ffff:") && host.includes(".")) host = host.slice(7);
  return ipPortToMultiaddr(host, addr.port);
}
