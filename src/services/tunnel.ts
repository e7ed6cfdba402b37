import type { PeerId, Stream } from "@libp2p/interface";
import type { Uint8ArrayList } from "uint8arraylist";
import { peerIdFromString } from "@libp2p/peer-id";
import { multiaddr } from "@multiformats/multiaddr";
import { getLogger } from "@logtape/logtape";
import type { P2PLibp2p } from "../node/create_node.ts";
import { bridge } from "./bridge.ts";
import {
  ACK_CONNECTED,
  MAX_SERVICE_STREAMS,
  SERVICE_ACK_PROTOCOL,
  SERVICE_PROTOCOL,
} from "./constants.ts";
import { emptyTunnelStats, type TunnelStats, tunnelTotals } from "./stats.ts";

const log = getLogger(["p2p", "tunnel"]);

/** Where a tunnel leads: the serving peer, and addresses to reach it without a lookup. */
export interface TunnelTarget {
  peerId: string;
  multiaddrs?: readonly string[];
}

/** Adds the target's announced addresses to the peer store, so no DHT lookup is needed. */
async function learnAddresses(node: P2PLibp2p, target: TunnelTarget): Promise<PeerId> {
  const peer: PeerId = peerIdFromString(target.peerId);
  if (target.multiaddrs !== undefined && target.multiaddrs.length > 0) {
    const addrs = target.multiaddrs.flatMap((a) => {
      try {
        return [multiaddr(a)];
      } catch {
        return [];
      }
    });
    await node.peerStore.merge(peer, { multiaddrs: addrs }).catch(() => {});
  }
  return peer;
}

/** Connects to the target peer (learning its announced addresses first). */
export async function dialTarget(
  node: P2PLibp2p,
  target: TunnelTarget,
  signal?: AbortSignal,
): Promise<void> {
  const peer = await learnAddresses(node, target);
  await node.dial(peer, signal === undefined ? {} : { signal });
}

/** The serving side answered that it cannot reach its target. */
export class TargetUnavailableError extends Error {
  /** @param message What failed. */
  constructor(message: string) {
    super(message);
    this.name = "TargetUnavailableError";
  }
}

/** Opens a `/edgevpn/service/0.1` stream to `target`. */
export async function openServiceStream(
  node: P2PLibp2p,
  target: TunnelTarget,
  signal?: AbortSignal,
): Promise<Stream> {
  const peer = await learnAddresses(node, target);
  return await node.dialProtocol(peer, SERVICE_PROTOCOL, {
    maxOutboundStreams: MAX_SERVICE_STREAMS,
    ...(signal === undefined ? {} : { signal }),
  });
}

/** A service stream whose serving side confirmed it reached its target. */
export interface ConfirmedStream {
  stream: Stream;
  /** Target bytes that arrived together with the confirmation. */
  early: Uint8Array | undefined;
}

/**
 * Opens a service stream and, when the peer speaks {@linkcode SERVICE_ACK_PROTOCOL}, waits
 * for its confirmation that the target is reachable. Go peers only speak the edgevpn
 * protocol: their stream is returned unconfirmed.
 *
 * @throws {TargetUnavailableError} The peer could not reach its target, or closed the stream.
 */
export async function openConfirmedStream(
  node: P2PLibp2p,
  target: TunnelTarget,
  signal?: AbortSignal,
): Promise<ConfirmedStream> {
  const peer = await learnAddresses(node, target);
  const stream = await node.dialProtocol(peer, [SERVICE_ACK_PROTOCOL, SERVICE_PROTOCOL], {
    maxOutboundStreams: MAX_SERVICE_STREAMS,
    ...(signal === undefined ? {} : { signal }),
  });
  if (stream.protocol !== SERVICE_ACK_PROTOCOL) return { stream, early: undefined };
  try {
    const first = await firstMessage(stream, signal);
    if (first[0] !== ACK_CONNECTED) {
      throw new TargetUnavailableError("worker cannot reach its target");
    }
    return { stream, early: first.byteLength > 1 ? first.subarray(1) : undefined };
  } catch (err) {
    stream.abort(err instanceof Error ? err : new Error(String(err)));
    throw err;
  }
}

function firstMessage(stream: Stream, signal?: AbortSignal): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      stream.removeEventListener("message", onMessage);
      stream.removeEventListener("close", onClose);
      signal?.removeEventListener("abort", onAbort);
    };
    const onMessage = (event: { data: Uint8Array | Uint8ArrayList }): void => {
      cleanup();
      resolve(event.data instanceof Uint8Array ? event.data : event.data.subarray());
    };
    const onClose = (): void => {
      cleanup();
      reject(new TargetUnavailableError("worker closed the stream before confirming"));
    };
    const onAbort = (): void => {
      cleanup();
      reject(signal?.reason ?? new Error("aborted"));
    };
    stream.addEventListener("message", onMessage);
    stream.addEventListener("close", onClose);
    signal?.addEventListener("abort", onAbort);
  });
}

/** Options of a {@linkcode TunnelListener}. */
export interface TunnelListenerInit {
  /** `HOST:PORT` to listen on; port 0 picks a free one. */
  hostname: string;
  port: number;
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
 */
export class TunnelListener {
  readonly stats: TunnelStats = emptyTunnelStats();
  #node: P2PLibp2p;
  #init: TunnelListenerInit;
  #listener: Deno.Listener | undefined;
  #conns = new Set<Deno.Conn>();
  #abort = new AbortController();
  #loop: Promise<void> | undefined;

  /** @param node The libp2p node. @param init Address and target resolver. */
  constructor(node: P2PLibp2p, init: TunnelListenerInit) {
    this.#node = node;
    this.#init = init;
  }

  /** The bound `host:port`. */
  get address(): string {
    const addr = this.#listener?.addr as Deno.NetAddr | undefined;
    return addr === undefined ? "" : `${addr.hostname}:${addr.port}`;
  }

  /** Binds the listener and starts accepting. */
  start(): void {
    this.#listener = Deno.listen({ hostname: this.#init.hostname, port: this.#init.port });
    this.#loop = this.#acceptLoop(this.#listener);
  }

  /** Closes the listener and every tunnelled connection. */
  async stop(): Promise<void> {
    this.#abort.abort();
    try {
      this.#listener?.close();
    } catch {
      // already closed
    }
    for (const conn of this.#conns) {
      try {
        conn.close();
      } catch {
        // already closed
      }
    }
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
    try {
      const target = await this.#init.resolve(this.#abort.signal);
      if (target === undefined) {
        this.#countFailure();
        return;
      }
      let stream: Stream;
      try {
        stream = await openServiceStream(this.#node, target, this.#abort.signal);
      } catch (err) {
        this.#countFailure();
        log.warning("Cannot open a tunnel to {peer} for {label}: {error}", {
          peer: target.peerId,
          label: this.#init.label,
          error: err instanceof Error ? err.message : String(err),
        });
        return;
      }
      await this.#pipe(conn, stream);
    } finally {
      this.#conns.delete(conn);
      try {
        conn.close();
      } catch {
        // closed by the bridge
      }
    }
  }

  async #pipe(conn: Deno.Conn, stream: Stream): Promise<void> {
    for (const stats of [this.stats, tunnelTotals]) {
      stats.active++;
      stats.total++;
    }
    try {
      await bridge(conn, stream, {
        onBytes: (direction, bytes) => {
          const field = direction === "tcpToStream" ? "bytesOut" : "bytesIn";
          this.stats[field] += bytes;
          tunnelTotals[field] += bytes;
        },
      });
    } finally {
      this.stats.active--;
      tunnelTotals.active--;
    }
  }

  #countFailure(): void {
    this.stats.failed++;
    tunnelTotals.failed++;
  }
}
