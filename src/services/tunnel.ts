import type { Connection, PeerId, Stream } from "@libp2p/interface";
import type { Uint8ArrayList } from "uint8arraylist";
import { peerIdOf } from "./peer_ids.ts";
import { rememberServiceProtocol, serviceProtocolsFor } from "./protocol_memory.ts";
import { learnAddresses } from "../node/peer_addresses.ts";
import type { P2PLibp2p } from "../node/create_node.ts";
import {
  ACK_CONNECTED,
  MAX_SERVICE_STREAMS,
  SERVICE_ACK_PROTOCOL,
  SERVICE_PROTOCOL,
} from "./constants.ts";
import { tunnelConnection } from "./tunnel_path.ts";

/** Where a tunnel leads: the serving peer, and addresses to reach it without a lookup. */
export interface TunnelTarget {
  /** The serving peer's ID. */
  peerId: string;
  /** Its announced multiaddrs, merged into the peer store before dialing. */
  multiaddrs?: readonly string[];
}

/** Adds the target's announced addresses to the peer store, so no DHT lookup is needed. */
async function targetPeer(node: P2PLibp2p, target: TunnelTarget): Promise<PeerId> {
  const peer: PeerId = peerIdOf(target.peerId);
  // Connected: nothing to dial, so no addresses to learn (a peer store write per tunnel).
  if (node.getConnections(peer).length > 0) return peer;
  await learnAddresses(node.peerStore, peer, target.multiaddrs ?? []);
  return peer;
}

/**
 * Connects to the target peer (learning its announced addresses first).
 *
 * @param node The libp2p node.
 * @param target The peer and its addresses.
 * @param signal Aborts the dial.
 * @returns The connection.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { createLibp2pNode } from "../node/create_node.ts";
 * import { dialTarget } from "./tunnel.ts";
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
 *   const multiaddrs = server.getMultiaddrs().map(String);
 *   await dialTarget(client, { peerId: server.peerId.toString(), multiaddrs });
 *   assert.equal(client.getConnections(server.peerId).length, 1);
 * } finally {
 *   await client.stop();
 *   await server.stop();
 * }
 * ```
 */
export async function dialTarget(
  node: P2PLibp2p,
  target: TunnelTarget,
  signal?: AbortSignal,
): Promise<Connection> {
  const peer = await targetPeer(node, target);
  return await node.dial(peer, signal === undefined ? {} : { signal });
}

/**
 * The serving side answered that it cannot reach its target.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { createLibp2pNode } from "../node/create_node.ts";
 * import { ACK_TARGET_UNREACHABLE, SERVICE_ACK_PROTOCOL } from "./constants.ts";
 * import { openConfirmedStream, TargetUnavailableError } from "./tunnel.ts";
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
 *   await assert.rejects(openConfirmedStream(client, target), TargetUnavailableError);
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

/**
 * Opens a `/edgevpn/service/0.1` stream to `target`.
 *
 * @param node The libp2p node.
 * @param target The serving peer and its addresses.
 * @param signal Aborts the dial.
 * @returns The open stream: a raw byte pipe to the serving side.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { createLibp2pNode } from "../node/create_node.ts";
 * import { openServiceStream } from "./tunnel.ts";
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
 * try {
 *   // A serving side that greets: the protocol is a raw byte pipe.
 *   await server.handle(SERVICE_PROTOCOL, (stream) => {
 *     stream.send(new TextEncoder().encode("hello"));
 *   });
 *   const multiaddrs = server.getMultiaddrs().map(String);
 *   const target = { peerId: server.peerId.toString(), multiaddrs };
 *   const stream = await openServiceStream(client, target);
 *   assert.equal(stream.protocol, SERVICE_PROTOCOL);
 *   for await (const chunk of stream) {
 *     assert.equal(new TextDecoder().decode(chunk.subarray()), "hello");
 *     break;
 *   }
 * } finally {
 *   await client.stop();
 *   await server.stop();
 * }
 * ```
 */
export async function openServiceStream(
  node: P2PLibp2p,
  target: TunnelTarget,
  signal?: AbortSignal,
): Promise<Stream> {
  const peer = await targetPeer(node, target);
  const connection = await tunnelConnection(node, peer, signal);
  return await connection.newStream(SERVICE_PROTOCOL, {
    maxOutboundStreams: MAX_SERVICE_STREAMS,
    runOnLimitedConnection: true,
    ...(signal === undefined ? {} : { signal }),
  });
}

/** A service stream whose serving side confirmed it reached its target. */
export interface ConfirmedStream {
  /** The open service stream. */
  stream: Stream;
  /** Target bytes that arrived together with the confirmation. */
  early: Uint8Array | undefined;
}

/**
 * Opens a service stream and, when the peer speaks {@linkcode SERVICE_ACK_PROTOCOL}, waits
 * for its confirmation that the target is reachable. Go peers only speak the edgevpn
 * protocol: their stream is returned unconfirmed.
 *
 * @param node The libp2p node.
 * @param target The serving peer and its addresses.
 * @param signal Aborts the dial and the wait.
 * @returns The stream, and any target bytes that came with the confirmation.
 * @throws {TargetUnavailableError} The peer could not reach its target, or closed the stream.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { createLibp2pNode } from "../node/create_node.ts";
 * import { ACK_CONNECTED, SERVICE_ACK_PROTOCOL } from "./constants.ts";
 * import { openConfirmedStream } from "./tunnel.ts";
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
 *   // A serving side that reached its target confirms, and may send target bytes at once.
 *   await server.handle(SERVICE_ACK_PROTOCOL, (stream) => {
 *     stream.send(Uint8Array.of(ACK_CONNECTED, ...new TextEncoder().encode("hi")));
 *   });
 *   const multiaddrs = server.getMultiaddrs().map(String);
 *   const target = { peerId: server.peerId.toString(), multiaddrs };
 *   const { stream, early } = await openConfirmedStream(client, target);
 *   assert.equal(stream.protocol, SERVICE_ACK_PROTOCOL);
 *   assert.equal(new TextDecoder().decode(early), "hi");
 * } finally {
 *   await client.stop();
 *   await server.stop();
 * }
 * ```
 */
export async function openConfirmedStream(
  node: P2PLibp2p,
  target: TunnelTarget,
  signal?: AbortSignal,
): Promise<ConfirmedStream> {
  const peer = await targetPeer(node, target);
  const connection = await tunnelConnection(node, peer, signal);
  const stream = await connection.newStream(serviceProtocolsFor(node, peer), {
    maxOutboundStreams: MAX_SERVICE_STREAMS,
    runOnLimitedConnection: true,
    ...(signal === undefined ? {} : { signal }),
  });
  rememberServiceProtocol(node, peer, stream.protocol);
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
