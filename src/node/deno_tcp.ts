/**
 * A libp2p TCP transport on Deno's native sockets (`Deno.connect`, `Deno.listen`,
 * `Deno.TcpConn`) instead of `@libp2p/tcp` on the node:net compatibility layer.
 *
 * What it changes on the data path (the wire format is plain TCP, as with `@libp2p/tcp`; the
 * noise and yamux upgrade is libp2p's):
 *
 * - **Write coalescing.** What the upper layers hand over until the microtask queue drains
 *   (a yamux frame arrives as 2-byte noise length + ciphertext pieces + tag, often several
 *   frames) is copied into one pooled buffer and written with one `write`, where node:net
 *   issues one `send` per piece.
 * - **Slab reads.** Reads go into the free tail of a per-connection slab, handed up as views,
 *   so a read of 100 bytes no longer costs a fresh (zeroed) 64 KiB buffer.
 * - `TCP_NODELAY` and keep-alive on every socket; an inactivity timeout like `@libp2p/tcp`'s.
 *
 * IPv6 wildcard listeners are left to `@libp2p/tcp` (see {@linkcode denoTcp}): Deno cannot
 * bind `[::]` IPv6-only, and a dual-stack socket would collide with `0.0.0.0` on the same port.
 *
 * @module
 */
import {
  AbortError,
  type ComponentLogger,
  type Connection,
  type CreateListenerOptions,
  type DialTransportOptions,
  type Listener,
  type ListenerEvents,
  type Logger,
  type MultiaddrConnection,
  serviceCapabilities,
  TimeoutError,
  type Transport,
  transportSymbol,
  TypedEventEmitter,
} from "@libp2p/interface";
import {
  AbstractMultiaddrConnection,
  getNetConfig,
  getThinWaistAddresses,
  ipPortToMultiaddr,
} from "@libp2p/utils";
import type { SendResult } from "@libp2p/utils";
import type { Multiaddr } from "@multiformats/multiaddr";
import type { Uint8ArrayList } from "uint8arraylist";
import {
  DENO_TCP_ACCEPT_RETRY_MS,
  DENO_TCP_MAX_WRITE_BATCH,
  DENO_TCP_MIN_READ,
  DENO_TCP_READ_SLAB,
  DENO_TCP_SCRATCH_POOL,
  DENO_TCP_SMALL_BATCH,
  DENO_TCP_SOCKET_TIMEOUT_MS,
  DENO_TCP_WRITE_HIGH_WATER,
  DENO_TCP_WRITE_LOW_WATER,
} from "./deno_tcp_constants.ts";

/** Options of {@linkcode denoTcp}. */
export interface DenoTcpOptions {
  /** Close a socket after this long without a byte read or written, in ms. @default {120000} */
  inactivityTimeout?: number;
  /** Size of a connection's read slab (a read gets at most this). @default {128 KiB} */
  readSlabBytes?: number;
  /** Queued bytes above which the connection asks libp2p to wait for `drain`. @default {1 MiB} */
  writeHighWater?: number;
}

/** What {@linkcode denoTcp} needs from libp2p. */
export interface DenoTcpComponents {
  logger: ComponentLogger;
}

interface ConnInit {
  conn: Deno.TcpConn;
  direction: "inbound" | "outbound";
  remoteAddr: Multiaddr;
  log: Logger;
  options: Required<DenoTcpOptions>;
}

/** Best effort: a socket that is already closed (or not TCP) refuses the options. */
function tune(conn: Deno.TcpConn): void {
  try {
    conn.setNoDelay(true);
    conn.setKeepAlive(true);
  } catch {
    // closed already: the first read reports it
  }
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // already closed
  }
}

function isClosedError(err: unknown): boolean {
  return err instanceof Deno.errors.BadResource || err instanceof Deno.errors.Interrupted;
}

/**
 * Write batch buffers of every connection, reused (a fresh buffer per write would cost more
 * than the copy): large ones for bulk, small ones for the usual few frames.
 */
const scratchPools = { large: [] as Uint8Array[], small: [] as Uint8Array[] };

function takeScratch(queued: number): Uint8Array {
  if (queued <= DENO_TCP_SMALL_BATCH) {
    return scratchPools.small.pop() ?? new Uint8Array(DENO_TCP_SMALL_BATCH);
  }
  return scratchPools.large.pop() ?? new Uint8Array(DENO_TCP_MAX_WRITE_BATCH);
}

function releaseScratch(scratch: Uint8Array): void {
  const pool = scratch.byteLength === DENO_TCP_SMALL_BATCH
    ? scratchPools.small
    : scratchPools.large;
  if (pool.length < DENO_TCP_SCRATCH_POOL) pool.push(scratch);
}

/** A `Deno.TcpConn` as a libp2p `MultiaddrConnection`. */
class DenoTcpConnection extends AbstractMultiaddrConnection {
  #conn: Deno.TcpConn;
  #opts: Required<DenoTcpOptions>;
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

  async #readLoop(): Promise<void> {
    const slabBytes = this.#opts.readSlabBytes;
    let slab = new Uint8Array(slabBytes);
    let offset = 0;
    try {
      while (true) {
        if (this.#paused) {
          await new Promise<void>((resolve) => (this.#resumeRead = resolve));
          continue;
        }
        if (slabBytes - offset < DENO_TCP_MIN_READ) {
          // Views handed up keep the old slab alive until libp2p has consumed them.
          slab = new Uint8Array(slabBytes);
          offset = 0;
        }
        const n = await this.#conn.read(slab.subarray(offset));
        if (n === null) break;
        if (n === 0) continue;
        this.#lastActivity = Date.now();
        const chunk = slab.subarray(offset, offset + n);
        offset += n;
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
    }
    this.#queue.splice(0, count);
    return scratch.subarray(0, at);
  }

  async #flush(): Promise<void> {
    // Sized by what is queued when the write starts; what arrives meanwhile follows.
    const scratch = takeScratch(this.#queued);
    try {
      while (this.#queue.length > 0) {
        const batch = this.#takeBatch(scratch);
        for (let offset = 0; offset < batch.byteLength;) {
          offset += await this.#conn.write(batch.subarray(offset));
        }
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
      releaseScratch(scratch);
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

function toMultiaddrConnection(init: ConnInit): MultiaddrConnection {
  return new DenoTcpConnection(init);
}

function remoteMultiaddr(conn: Deno.TcpConn): Multiaddr {
  const addr = conn.remoteAddr;
  let host = addr.hostname;
  // An IPv4 client of a dual-stack socket shows as ::ffff:a.b.c.d.
  if (host.startsWith("::ffff:") && host.includes(".")) host = host.slice(7);
  return ipPortToMultiaddr(host, addr.port);
}

/** Node's error codes for Deno's listen errors, so messages read as with `@libp2p/tcp`. */
const LISTEN_ERROR_CODES: [new (...args: never[]) => Error, string, string][] = [
  [Deno.errors.AddrInUse, "EADDRINUSE", "address already in use"],
  [Deno.errors.AddrNotAvailable, "EADDRNOTAVAIL", "address not available"],
  [Deno.errors.PermissionDenied, "EACCES", "permission denied"],
];

/** `listen EADDRINUSE: address already in use 127.0.0.1:4001`, with `code`, as node:net says. */
function listenError(err: unknown, hostname: string, port: number): Error {
  for (const [type, code, text] of LISTEN_ERROR_CODES) {
    if (err instanceof type) {
      const where = hostname.includes(":") ? `[${hostname}]:${port}` : `${hostname}:${port}`;
      return Object.assign(new Error(`listen ${code}: ${text} ${where}`, { cause: err }), {
        code,
      });
    }
  }
  return err instanceof Error ? err : new Error(String(err));
}

const HOST_PROTOCOLS = new Set(["ip4", "ip6", "dns", "dns4", "dns6"]);

/** `/ip4|ip6|dns|dns4|dns6/<host>/tcp/<port>[/p2p/<id>]`. */
function isTcpAddress(ma: Multiaddr): boolean {
  const parts = ma.getComponents();
  if (parts.length < 2 || parts.length > 3) return false;
  if (!HOST_PROTOCOLS.has(parts[0]!.name) || parts[1]!.name !== "tcp") return false;
  return parts.length === 2 || parts[2]!.name === "p2p";
}

function isIp6Wildcard(ma: Multiaddr): boolean {
  const first = ma.getComponents()[0];
  return first?.name === "ip6" && (first.value === "::" || first.value === "0:0:0:0:0:0:0:0");
}

class DenoTcpListener extends TypedEventEmitter<ListenerEvents> implements Listener {
  #upgrader: CreateListenerOptions["upgrader"];
  #options: Required<DenoTcpOptions>;
  #log: Logger;
  #connLog: Logger;
  #listener: Deno.TcpListener | undefined;
  #listeningAddr: Multiaddr | undefined;
  #sockets = new Set<Deno.TcpConn>();
  #shutdown = new AbortController();
  #closed = false;

  constructor(
    options: CreateListenerOptions,
    init: Required<DenoTcpOptions>,
    logger: ComponentLogger,
  ) {
    super();
    this.#upgrader = options.upgrader;
    this.#options = init;
    this.#log = logger.forComponent("libp2p:deno-tcp:listener");
    this.#connLog = logger.forComponent("libp2p:deno-tcp:connection");
  }

  async listen(ma: Multiaddr): Promise<void> {
    if (this.#listener !== undefined) throw new Error("server is already listening");
    const config = getNetConfig(ma);
    const hostname = config.host;
    const port = config.port ?? 0;
    try {
      this.#listener = Deno.listen({ hostname, port, transport: "tcp" });
    } catch (err) {
      throw listenError(err, hostname, port);
    }
    this.#listeningAddr = ma;
    this.#log("listening on %s:%d", hostname, this.#port());
    void this.#acceptLoop(this.#listener);
    await Promise.resolve();
    this.safeDispatchEvent("listening");
  }

  #port(): number {
    return (this.#listener?.addr as Deno.NetAddr | undefined)?.port ?? 0;
  }

  async #acceptLoop(listener: Deno.TcpListener): Promise<void> {
    while (true) {
      let conn: Deno.TcpConn;
      try {
        conn = await listener.accept();
      } catch (err) {
        if (this.#closed || isClosedError(err)) return;
        // Out of file descriptors and the like: keep listening, as a node:net server does.
        this.#log.error("accept failed - %e", err);
        await new Promise((resolve) => setTimeout(resolve, DENO_TCP_ACCEPT_RETRY_MS));
        continue;
      }
      this.#onSocket(conn);
    }
  }

  #onSocket(conn: Deno.TcpConn): void {
    if (this.#closed) {
      closeQuietly(conn);
      return;
    }
    tune(conn);
    let maConn: MultiaddrConnection;
    try {
      maConn = toMultiaddrConnection({
        conn,
        direction: "inbound",
        remoteAddr: remoteMultiaddr(conn),
        log: this.#connLog,
        options: this.#options,
      });
    } catch (err) {
      this.#log.error("inbound connection failed - %e", err);
      closeQuietly(conn);
      return;
    }
    this.#sockets.add(conn);
    maConn.addEventListener("close", () => this.#sockets.delete(conn), { once: true });
    this.#upgrader.upgradeInbound(maConn, { signal: this.#shutdown.signal }).catch((err) => {
      this.#log.error("inbound connection upgrade failed - %e", err);
      this.#sockets.delete(conn);
      maConn.abort(err instanceof Error ? err : new Error(String(err)));
    });
  }

  getAddrs(): Multiaddr[] {
    if (this.#listener === undefined || this.#listeningAddr === undefined) return [];
    return getThinWaistAddresses(this.#listeningAddr, this.#port());
  }

  updateAnnounceAddrs(): void {}

  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    if (this.#listener !== undefined) {
      try {
        this.#listener.close();
      } catch {
        // closed already
      }
    }
    this.#shutdown.abort();
    for (const conn of this.#sockets) closeQuietly(conn);
    this.#sockets.clear();
    this.safeDispatchEvent("close");
    return Promise.resolve();
  }
}

class DenoTcp implements Transport {
  readonly [transportSymbol] = true as const;
  readonly [Symbol.toStringTag] = "@p2p/deno-tcp";
  readonly [serviceCapabilities]: string[] = ["@libp2p/transport"];
  #options: Required<DenoTcpOptions>;
  #logger: ComponentLogger;
  #log: Logger;

  constructor(components: DenoTcpComponents, options: DenoTcpOptions) {
    this.#logger = components.logger;
    this.#log = components.logger.forComponent("libp2p:deno-tcp");
    this.#options = {
      inactivityTimeout: options.inactivityTimeout ?? DENO_TCP_SOCKET_TIMEOUT_MS,
      readSlabBytes: options.readSlabBytes ?? DENO_TCP_READ_SLAB,
      writeHighWater: options.writeHighWater ?? DENO_TCP_WRITE_HIGH_WATER,
    };
  }

  async dial(ma: Multiaddr, options: DialTransportOptions): Promise<Connection> {
    options.signal.throwIfAborted();
    const config = getNetConfig(ma);
    const conn = await this.#connect(config.host, config.port ?? 0, options.signal);
    tune(conn);
    let maConn: MultiaddrConnection;
    try {
      maConn = toMultiaddrConnection({
        conn,
        direction: "outbound",
        remoteAddr: ma,
        log: this.#log.newScope("connection"),
        options: this.#options,
      });
    } catch (err) {
      closeQuietly(conn);
      throw err;
    }
    try {
      return await options.upgrader.upgradeOutbound(maConn, options);
    } catch (err) {
      this.#log.error("error upgrading outbound connection - %e", err);
      maConn.abort(err instanceof Error ? err : new Error(String(err)));
      throw err;
    }
  }

  async #connect(hostname: string, port: number, signal: AbortSignal): Promise<Deno.TcpConn> {
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(new AbortError());
      signal.addEventListener("abort", onAbort, { once: true });
    });
    const connecting = Deno.connect({ hostname, port, transport: "tcp" });
    try {
      return await Promise.race([connecting, aborted]);
    } catch (err) {
      // An abort that won the race: the socket may still open, close it then.
      connecting.then(closeQuietly, () => {});
      if (err instanceof AbortError) throw err;
      const message = err instanceof Error ? err.message : String(err);
      throw Object.assign(err instanceof Error ? err : new Error(message), {
        message: `connection error ${hostname}:${port}: ${message}`,
      });
    } finally {
      signal.removeEventListener("abort", onAbort!);
    }
  }

  createListener(options: CreateListenerOptions): Listener {
    return new DenoTcpListener(options, this.#options, this.#logger);
  }

  listenFilter = (multiaddrs: Multiaddr[]): Multiaddr[] =>
    multiaddrs.filter((ma) => isTcpAddress(ma) && !isIp6Wildcard(ma));

  dialFilter = (multiaddrs: Multiaddr[]): Multiaddr[] => multiaddrs.filter(isTcpAddress);
}

/**
 * The Deno-native TCP transport: dials every TCP multiaddr and listens on every one except
 * the IPv6 wildcard (`/ip6/::/tcp/N`), which {@linkcode ip6WildcardOnly} leaves to
 * `@libp2p/tcp`.
 *
 * @param options Timeouts and buffer sizes.
 * @returns The transport factory for `createLibp2p({ transports })`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { createLibp2p } from "libp2p";
 * import { tcp } from "@libp2p/tcp";
 * import { noise } from "@libp2p/noise";
 * import { yamux } from "@libp2p/yamux";
 * import { denoTcp, ip6WildcardOnly } from "./deno_tcp.ts";
 *
 * const node = await createLibp2p({
 *   addresses: { listen: ["/ip4/127.0.0.1/tcp/0"] },
 *   transports: [denoTcp(), ip6WildcardOnly(tcp())],
 *   connectionEncrypters: [noise()],
 *   streamMuxers: [yamux()],
 * });
 * try {
 *   assert.match(node.getMultiaddrs()[0]!.toString(), /^\/ip4\/127\.0\.0\.1\/tcp\/\d+/);
 * } finally {
 *   await node.stop();
 * }
 * ```
 */
export function denoTcp(
  options: DenoTcpOptions = {},
): (components: DenoTcpComponents) => Transport {
  return (components) => new DenoTcp(components, options);
}

/**
 * Restricts a transport (meant for `@libp2p/tcp`) to listening on the IPv6 wildcard, the one
 * address {@linkcode denoTcp} does not take; it dials nothing.
 *
 * @param factory The transport factory to wrap.
 * @returns The restricted factory.
 *
 * @example Usage
 * ```ts
 * import { tcp } from "@libp2p/tcp";
 * import { denoTcp, ip6WildcardOnly } from "./deno_tcp.ts";
 *
 * // `/ip6/::/tcp/N` listens through node:net (IPv6-only); everything else is Deno-native.
 * const transports = [denoTcp(), ip6WildcardOnly(tcp())];
 * ```
 */
export function ip6WildcardOnly<C>(
  factory: (components: C) => Transport,
): (components: C) => Transport {
  return (components) => {
    const inner = factory(components);
    const wrapped = Object.create(inner) as Transport;
    Object.defineProperty(wrapped, "listenFilter", {
      value: (multiaddrs: Multiaddr[]) => inner.listenFilter(multiaddrs).filter(isIp6Wildcard),
    });
    Object.defineProperty(wrapped, "dialFilter", { value: () => [] });
    return wrapped;
  };
}
