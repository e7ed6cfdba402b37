import {
  type Connection,
  type PeerId,
  type Stream,
  UnsupportedProtocolError,
} from "@libp2p/interface";
import type { Uint8ArrayList } from "uint8arraylist";
import { peerIdFromString } from "@libp2p/peer-id";
import { getLogger } from "@logtape/logtape";
import { learnAddresses } from "../node/peer_addresses.ts";
import { openLazyStream } from "../node/lazy_select.ts";
import type { P2PLibp2p } from "../node/create_node.ts";
import { type SharedKey, sharedKey } from "../network/components.ts";
import {
  ACK_CONNECTED,
  MAX_CACHED_PEER_IDS,
  MAX_SERVICE_STREAMS,
  SERVICE_ACK_PROTOCOL,
  SERVICE_PROTOCOL,
} from "./constants.ts";
import { RepeatedWarning } from "./repeated_warning.ts";
import { tunnelConnection } from "./tunnel_path.ts";

const log = getLogger(["p2p", "tunnel"]);

/** Where a tunnel leads: the serving peer, and addresses to reach it without a lookup. */
export interface TunnelTarget {
  /** The serving peer's ID. */
  peerId: string;
  /** Its announced multiaddrs, merged into the peer store before dialing. */
  multiaddrs?: readonly string[];
}

/**
 * The serving side answered that it cannot reach its target.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { createLibp2pNode } from "../node/create_node.ts";
 * import { ACK_TARGET_UNREACHABLE, SERVICE_ACK_PROTOCOL } from "./constants.ts";
 * import { TargetUnavailableError, TunnelDialer } from "./tunnel.ts";
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
 * try {
 *   // A serving side that cannot reach its target says so, then closes.
 *   await server.handle(SERVICE_ACK_PROTOCOL, async (stream) => {
 *     stream.send(Uint8Array.of(ACK_TARGET_UNREACHABLE));
 *     await stream.close();
 *   });
 *   const multiaddrs = server.getMultiaddrs().map(String);
 *   const target = { peerId: server.peerId.toString(), multiaddrs };
 *   await assert.rejects(
 *     new TunnelDialer(client).openConfirmed(target),
 *     TargetUnavailableError,
 *   );
 * } finally {
 *   await client.stop();
 *   await server.stop();
 * }
 * ```
 */
export class TargetUnavailableError extends Error {
  /**
   * Creates the error.
   *
   * @param message What failed.
   */
  constructor(message: string) {
    super(message);
    this.name = "TargetUnavailableError";
  }
}

/** A service stream whose serving side confirmed it reached its target. */
export interface ConfirmedStream {
  /** The open service stream. */
  stream: Stream;
  /** Target bytes that arrived together with the confirmation. */
  early: Uint8Array | undefined;
  /** Whether the `ahead` bytes went out (with a lazy proposal): the bridge must not resend them. */
  sentAhead: boolean;
}

/**
 * Opens tunnels' streams from one node: learns each target's announced addresses, picks a
 * path (see `tunnelConnection`), and remembers per connection which service protocol the
 * peer answered with, so that a Go peer (only `/edgevpn/service/0.1`) costs the extra
 * multistream-select round trip once per connection, not once per stream. A network holds one,
 * {@linkcode TUNNEL_DIALER}, shared by its listeners and its balancer.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { createLibp2pNode } from "../node/create_node.ts";
 * import { ACK_CONNECTED, SERVICE_ACK_PROTOCOL, SERVICE_PROTOCOL } from "./constants.ts";
 * import { TunnelDialer } from "./tunnel.ts";
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
 * const dialer = new TunnelDialer(client);
 * try {
 *   // A serving side that reached its target confirms, and may send target bytes at once.
 *   await server.handle(SERVICE_ACK_PROTOCOL, (stream) => {
 *     stream.send(Uint8Array.of(ACK_CONNECTED, ...new TextEncoder().encode("hi")));
 *   });
 *   await server.handle(SERVICE_PROTOCOL, (stream) => {
 *     stream.send(new TextEncoder().encode("hello"));
 *   });
 *   const multiaddrs = server.getMultiaddrs().map(String);
 *   const target = { peerId: server.peerId.toString(), multiaddrs };
 *
 *   const { stream, early } = await dialer.openConfirmed(target);
 *   assert.equal(stream.protocol, SERVICE_ACK_PROTOCOL);
 *   assert.equal(new TextDecoder().decode(early), "hi");
 *
 *   // The raw edgevpn protocol: a byte pipe from the first byte.
 *   const raw = await dialer.openStream(target);
 *   assert.equal(raw.protocol, SERVICE_PROTOCOL);
 *   for await (const chunk of raw) {
 *     assert.equal(new TextDecoder().decode(chunk.subarray()), "hello");
 *     break;
 *   }
 * } finally {
 *   dialer.stop();
 *   await client.stop();
 *   await server.stop();
 * }
 * ```
 */
export class TunnelDialer {
  #node: P2PLibp2p;
  // A tunnel per client connection would otherwise decode the same base58 ID, then encode it
  // again for every map lookup (a `PeerId` caches its string form, a fresh one has none yet).
  #peerIds = new Map<string, PeerId>();
  // Per connection: a peer that reconnects may be another build, and negotiates afresh.
  #answered = new WeakMap<Connection, string>();
  // Once per stream at most: a flood of clients must not flood the log.
  #tightOnly = new RepeatedWarning(
    log,
    "Tunnels to {peer} go through relay {relay}, which allows {limit}: they end (with an error) at that limit",
  );

  /** @param node The dialing node. */
  constructor(node: P2PLibp2p) {
    this.#node = node;
  }

  /**
   * Connects to the target peer, learning its announced addresses first.
   *
   * @param target The peer and its addresses.
   * @param signal Aborts the dial.
   * @returns The connection.
   */
  async dial(target: TunnelTarget, signal?: AbortSignal): Promise<Connection> {
    const peer = await this.#targetPeer(target);
    return await this.#node.dial(peer, signal === undefined ? {} : { signal });
  }

  /**
   * Opens a `/edgevpn/service/0.1` stream to `target`, ready to send before the peer has
   * answered the protocol proposal (see `openLazyStream`).
   *
   * @param target The serving peer and its addresses.
   * @param signal Aborts the dial.
   * @returns The open stream: a raw byte pipe to the serving side.
   */
  async openStream(target: TunnelTarget, signal?: AbortSignal): Promise<Stream> {
    const connection = await this.#tunnelConnection(target, signal);
    // Lazily: the client's first bytes follow the proposal without waiting for the answer.
    return await openLazyStream(connection, SERVICE_PROTOCOL, streamOptions(signal));
  }

  /**
   * Opens a service stream and, when the peer speaks {@linkcode SERVICE_ACK_PROTOCOL}, waits
   * for its confirmation that the target is reachable. Go peers only speak the edgevpn
   * protocol: their stream is returned unconfirmed.
   *
   * @param target The serving peer and its addresses.
   * @param signal Aborts the dial and the wait.
   * @param ahead Client bytes to send with the proposal when it goes lazily (the peer confirmed
   * on this connection before), before the confirmation: one round trip less before the
   * target answers. `sentAhead` in the result says whether they went; the caller keeps them
   * until then, to send elsewhere should this peer fail.
   * @returns The stream, and any target bytes that came with the confirmation.
   * @throws {TargetUnavailableError} The peer could not reach its target, or closed the stream.
   */
  async openConfirmed(
    target: TunnelTarget,
    signal?: AbortSignal,
    ahead: readonly Uint8Array[] = [],
  ): Promise<ConfirmedStream> {
    const connection = await this.#tunnelConnection(target, signal);
    if (this.#answered.get(connection) === SERVICE_ACK_PROTOCOL) {
      // It confirmed on this connection before: asked lazily, its answer to the proposal comes
      // with the confirmation, one round trip instead of two. The serving side holds what
      // comes before it confirms, and forwards it only after: a refusal leaves it unsent.
      const stream = await openLazyStream(connection, SERVICE_ACK_PROTOCOL, streamOptions(signal));
      for (const bytes of ahead) stream.send(bytes);
      try {
        return await confirmation(stream, signal, ahead.length > 0);
      } catch (err) {
        if (!(err instanceof UnsupportedProtocolError)) throw err;
        this.#answered.delete(connection);
      }
    }
    const stream = await connection.newStream(
      this.protocolsFor(connection),
      streamOptions(signal),
    );
    if (this.#answered.get(connection) !== stream.protocol) {
      this.#answered.set(connection, stream.protocol);
    }
    if (stream.protocol !== SERVICE_ACK_PROTOCOL) {
      return { stream, early: undefined, sentAhead: false };
    }
    return await confirmation(stream, signal, false);
  }

  /**
   * The service protocols {@linkcode TunnelDialer.openConfirmed} offers on `connection`, best
   * first: multistream-select tries them one round trip at a time, so once the peer answered
   * with the edgevpn protocol only that one is offered.
   *
   * @param connection A connection to a serving peer.
   * @returns The protocol list for `newStream`.
   */
  protocolsFor(connection: Connection): string[] {
    return this.#answered.get(connection) === SERVICE_PROTOCOL
      ? [SERVICE_PROTOCOL]
      : [SERVICE_ACK_PROTOCOL, SERVICE_PROTOCOL];
  }

  /** Stops the dialer's repeated-warning timer; the dialer stays usable. */
  stop(): void {
    this.#tightOnly.stop();
  }

  /** The connection a tunnel's stream opens on: see `tunnelConnection`. */
  async #tunnelConnection(target: TunnelTarget, signal?: AbortSignal): Promise<Connection> {
    const peer = await this.#targetPeer(target);
    return await tunnelConnection(this.#node, peer, this.#tightOnly, signal);
  }

  /** The target's peer ID, its announced addresses merged into the peer store when needed. */
  async #targetPeer(target: TunnelTarget): Promise<PeerId> {
    let peer = this.#peerIds.get(target.peerId);
    if (peer === undefined) {
      peer = peerIdFromString(target.peerId);
      if (this.#peerIds.size >= MAX_CACHED_PEER_IDS) this.#peerIds.clear();
      this.#peerIds.set(target.peerId, peer);
    }
    // Connected: nothing to dial, so no addresses to learn (a peer store write per tunnel).
    if (this.#node.getConnections(peer).length > 0) return peer;
    await learnAddresses(this.#node.peerStore, peer, target.multiaddrs ?? []);
    return peer;
  }
}

/** The network's {@linkcode TunnelDialer}, stopped with the network. */
export const TUNNEL_DIALER: SharedKey<TunnelDialer> = sharedKey(
  "tunnel dialer",
  (network) => new TunnelDialer(network.node),
);

function streamOptions(signal: AbortSignal | undefined) {
  return {
    maxOutboundStreams: MAX_SERVICE_STREAMS,
    runOnLimitedConnection: true,
    ...(signal === undefined ? {} : { signal }),
  };
}

/** Waits for the serving side's confirmation byte; aborts the stream if it does not come. */
async function confirmation(
  stream: Stream,
  signal: AbortSignal | undefined,
  sentAhead: boolean,
): Promise<ConfirmedStream> {
  try {
    const first = await firstMessage(stream, signal);
    if (first[0] !== ACK_CONNECTED) {
      throw new TargetUnavailableError("worker cannot reach its target");
    }
    return { stream, early: first.byteLength > 1 ? first.subarray(1) : undefined, sentAhead };
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
    const onClose = (event: { error?: Error }): void => {
      cleanup();
      // A refused lazy proposal (see `openLazyStream`) says so; anything else is the target.
      reject(
        event.error instanceof UnsupportedProtocolError
          ? event.error
          : new TargetUnavailableError("worker closed the stream before confirming"),
      );
    };
    const onAbort = (): void => {
      cleanup();
      reject(signal?.reason ?? new Error("aborted"));
    };
    // A refusal can arrive in the same read as the protocol answer: the stream is then closed
    // before this runs, and its 'close' event is gone (buffered bytes still come as 'message').
    if (stream.status !== "open" && stream.readBufferLength === 0) {
      reject(new TargetUnavailableError("worker closed the stream before confirming"));
      return;
    }
    stream.addEventListener("message", onMessage);
    stream.addEventListener("close", onClose);
    signal?.addEventListener("abort", onAbort);
  });
}
