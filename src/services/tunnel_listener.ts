import type { Stream } from "@libp2p/interface";
import { getLogger } from "@logtape/logtape";
import type { Network } from "../network/network.ts";
import { bridge } from "./bridge.ts";
import { closeQuietly } from "../node/tcp_io.ts";
import { TUNNEL_BUFFERS, type TunnelBuffers } from "./tunnel_buffers.ts";
import { RepeatedWarning } from "./repeated_warning.ts";
import { emptyTunnelStats, TUNNEL_TOTALS, type TunnelStats } from "./stats.ts";
import { listenTcp } from "./target.ts";
import { TUNNEL_DIALER, type TunnelDialer, type TunnelTarget } from "./tunnel.ts";

const log = getLogger(["p2p", "tunnel"]);

/** Options of a {@linkcode TunnelListener}. */
export interface TunnelListenerInit {
  /** `HOST:PORT` to listen on (`:PORT` is 127.0.0.1); port 0 picks a free one. */
  listen: string;
  /** The flag that gave `listen`, named by errors. @default {"--listen"} */
  flag?: string;
  /**
   * Finds where a new connection goes; `undefined` closes the connection (the reason is
   * logged by the resolver). Called once per accepted connection.
   */
  resolve: (signal: AbortSignal) => Promise<TunnelTarget | undefined>;
  /** Label for logs. */
  label: string;
}

/**
 * A local TCP listener whose every accepted connection is tunnelled to a peer over one
 * service stream (`p2p connect`, `p2p discover`).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { generateToken, startNetwork } from "@p2p/p2p";
 * import { TunnelListener } from "./tunnel_listener.ts";
 *
 * await using network = await startNetwork({
 *   token: generateToken(),
 *   listen: ["/ip4/127.0.0.1/tcp/0"],
 *   bootstrapPeers: [],
 *   mdns: false,
 * });
 * // A resolver that finds no target: each connection is closed and counted as failed.
 * const listener = new TunnelListener(network, {
 *   listen: "127.0.0.1:0",
 *   label: "example",
 *   resolve: () => Promise.resolve(undefined),
 * });
 * listener.start();
 * try {
 *   assert.match(listener.address, /^127\.0\.0\.1:\d+$/);
 *   const port = Number(listener.address.split(":")[1]);
 *   const conn = await Deno.connect({ hostname: "127.0.0.1", port });
 *   assert.equal(await conn.read(new Uint8Array(1)), null);
 *   conn.close();
 *   assert.equal(listener.stats.failed, 1);
 * } finally {
 *   await listener.stop();
 * }
 * ```
 */
export class TunnelListener {
  /** Counters of this listener's connections. */
  readonly stats: TunnelStats = emptyTunnelStats();
  #dialer: TunnelDialer;
  #totals: TunnelStats;
  #buffers: TunnelBuffers;
  #init: TunnelListenerInit;
  #listener: Deno.Listener | undefined;
  #conns = new Set<Deno.Conn>();
  #abort = new AbortController();
  #loop: Promise<void> | undefined;
  // Once per client connection: a flood of clients must not flood the log.
  #openFailed = new RepeatedWarning(log, "Cannot open a tunnel to {peer} for {label}: {error}");

  /**
   * Creates a listener; it binds nothing until {@linkcode TunnelListener.start}.
   *
   * @param network The running network.
   * @param init Address and target resolver.
   */
  constructor(network: Network, init: TunnelListenerInit) {
    this.#dialer = network.shared(TUNNEL_DIALER);
    this.#totals = network.shared(TUNNEL_TOTALS);
    this.#buffers = network.shared(TUNNEL_BUFFERS);
    this.#init = init;
  }

  /** The bound `host:port`. */
  get address(): string {
    const addr = this.#listener?.addr as Deno.NetAddr | undefined;
    return addr === undefined ? "" : `${addr.hostname}:${addr.port}`;
  }

  /**
   * Binds the listener and starts accepting.
   *
   * @throws {InvalidAddressError} The address is malformed or cannot be bound (naming the flag).
   */
  start(): void {
    this.#listener = listenTcp(this.#init.listen, this.#init.flag ?? "--listen", "127.0.0.1");
    this.#loop = this.#acceptLoop(this.#listener);
  }

  /** Closes the listener and every tunnelled connection. */
  async stop(): Promise<void> {
    this.#abort.abort();
    this.#openFailed.stop();
    if (this.#listener !== undefined) closeQuietly(this.#listener);
    for (const conn of this.#conns) closeQuietly(conn);
    await this.#loop;
  }

  async #acceptLoop(listener: Deno.Listener): Promise<void> {
    while (!this.#abort.signal.aborted) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch {
        return; // closed
      }
      void this.#handle(conn);
    }
  }

  async #handle(conn: Deno.Conn): Promise<void> {
    this.#conns.add(conn);
    let bridged = false;
    try {
      const target = await this.#init.resolve(this.#abort.signal);
      if (target === undefined) {
        this.#countFailure();
        return;
      }
      let stream: Stream;
      try {
        stream = await this.#dialer.openStream(target, this.#abort.signal);
      } catch (err) {
        this.#countFailure();
        this.#openFailed.warn({
          peer: target.peerId,
          label: this.#init.label,
          error: err instanceof Error ? err.message : String(err),
        });
        return;
      }
      bridged = true;
      await this.#pipe(conn, stream);
    } finally {
      this.#conns.delete(conn);
      // The bridge closes what it was given: a second close would throw (and build an error,
      // a cost measured per connection).
      if (!bridged) closeQuietly(conn);
    }
  }

  async #pipe(conn: Deno.Conn, stream: Stream): Promise<void> {
    for (const stats of [this.stats, this.#totals]) {
      stats.active++;
      stats.total++;
    }
    try {
      await bridge(conn, stream, {
        buffers: this.#buffers,
        onBytes: (direction, bytes) => {
          const field = direction === "tcpToStream" ? "bytesSent" : "bytesReceived";
          this.stats[field] += bytes;
          this.#totals[field] += bytes;
        },
      });
    } finally {
      this.stats.active--;
      this.#totals.active--;
    }
  }

  #countFailure(): void {
    this.stats.failed++;
    this.#totals.failed++;
  }
}
