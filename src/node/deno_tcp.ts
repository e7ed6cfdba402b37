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
 * - **Slab reads.** While bytes stream, reads go into the free tail of a per-connection slab,
 *   handed up as views, so a read no longer costs a fresh (zeroed) 64 KiB buffer; a quiet
 *   connection reads into one reused 16 KiB buffer and hands up copies, so that a small view a
 *   reader keeps does not pin a 128 KiB slab.
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
  type Logger,
  type MultiaddrConnection,
  serviceCapabilities,
  type Transport,
  transportSymbol,
} from "@libp2p/interface";
import { getNetConfig } from "@libp2p/utils";
import type { Multiaddr } from "@multiformats/multiaddr";
import {
  DENO_TCP_READ_SLAB,
  DENO_TCP_REUSE_PORT_WAIT_MS,
  DENO_TCP_SOCKET_TIMEOUT_MS,
  DENO_TCP_WRITE_HIGH_WATER,
  NOISE_MAX_MESSAGE_BYTES,
} from "./deno_tcp_constants.ts";
import { closeQuietly } from "./tcp_io.ts";
import { BufferPool } from "./buffer_pool.ts";
import {
  type ConnectionOptions,
  type DenoTcpOptions,
  toMultiaddrConnection,
  tune,
  writeBatches,
} from "./deno_tcp_connection.ts";
import { DenoTcpListener, ReusePorts } from "./deno_tcp_listener.ts";
import { connectFrom, reusePortSupported } from "./reuse_port.ts";

export type { DenoTcpOptions } from "./deno_tcp_connection.ts";

/** What {@linkcode denoTcp} needs from libp2p. */
export interface DenoTcpComponents {
  logger: ComponentLogger;
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

class DenoTcp implements Transport {
  readonly [transportSymbol] = true as const;
  readonly [Symbol.toStringTag] = "@p2p/deno-tcp";
  readonly [serviceCapabilities]: string[] = ["@libp2p/transport"];
  #options: ConnectionOptions;
  #logger: ComponentLogger;
  #log: Logger;
  /** Ports of our wildcard IPv4 listeners, when dials leave from them. */
  #reusePorts: ReusePorts | undefined;

  constructor(components: DenoTcpComponents, options: DenoTcpOptions) {
    this.#logger = components.logger;
    this.#log = components.logger.forComponent("libp2p:deno-tcp");
    this.#options = {
      inactivityTimeout: options.inactivityTimeout ?? DENO_TCP_SOCKET_TIMEOUT_MS,
      readSlabBytes: options.readSlabBytes ?? DENO_TCP_READ_SLAB,
      writeHighWater: options.writeHighWater ?? DENO_TCP_WRITE_HIGH_WATER,
      reusePort: options.reusePort ?? false,
      sealBuffers: options.sealBuffers ?? new BufferPool(NOISE_MAX_MESSAGE_BYTES, 0),
      alignReads: options.alignReads ?? false,
      writeBatches: writeBatches(),
    };
    if (this.#options.reusePort && reusePortSupported()) this.#reusePorts = new ReusePorts();
  }

  /**
   * The port outgoing IPv4 connections leave from, if they share the listener's. (Arrow
   * functions: wrappers such as `pendingPerHost` call them on another object.)
   */
  reusedPort = (): number | undefined => this.#reusePorts?.first();

  /**
   * Hole punching: dials `ma` from the listen port (so the NAT's mapping is the one peers
   * observed) and upgrades the connection in the given `role`, whatever the socket's
   * direction: in a TCP simultaneous open both sockets are outbound, and the two ends must not
   * both run noise and yamux as initiator (yamux takes its role from `maConn.direction`).
   *
   * @param ma The peer's address (`/ip4/…/tcp/…`).
   * @param role `client` upgrades as the dialer (noise initiator, yamux client), `server` as
   *   the listener.
   * @param options The upgrader and a signal.
   * @returns The connection once upgraded (`server`: once the upgrader registered it).
   */
  punch = async (
    ma: Multiaddr,
    role: "client" | "server",
    options: Pick<DialTransportOptions, "upgrader" | "signal">,
  ): Promise<Connection | undefined> => {
    const port = this.reusedPort();
    if (port === undefined) throw new Error("no listener shares its port with dials");
    const config = getNetConfig(ma);
    const conn = await connectFrom("0.0.0.0", port, config.host, config.port ?? 0, options.signal);
    tune(conn);
    const maConn = toMultiaddrConnection({
      conn,
      direction: role === "client" ? "outbound" : "inbound",
      remoteAddr: ma,
      log: this.#log.newScope("punch"),
      options: this.#options,
    });
    try {
      if (role === "client") return await options.upgrader.upgradeOutbound(maConn, options);
      await options.upgrader.upgradeInbound(maConn, options);
      return undefined;
    } catch (err) {
      maConn.abort(err instanceof Error ? err : new Error(String(err)));
      throw err;
    }
  };

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
    const localPort = await this.#reusePorts?.wait(DENO_TCP_REUSE_PORT_WAIT_MS);
    const connecting = localPort !== undefined && !hostname.includes(":")
      ? connectFrom("0.0.0.0", localPort, hostname, port, signal).catch((err) => {
        // That 4-tuple is still taken (a connection we closed, in TIME_WAIT): any port then.
        const code = (err as { code?: string }).code;
        if (code !== "EADDRINUSE" && code !== "EADDRNOTAVAIL") throw err;
        return Deno.connect({ hostname, port, transport: "tcp" });
      })
      : Deno.connect({ hostname, port, transport: "tcp" });
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
    return new DenoTcpListener(options, this.#options, this.#logger, this.#reusePorts);
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
