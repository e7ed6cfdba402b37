import type { Libp2p, PeerId } from "@libp2p/interface";
import { SERVICE_ACK_PROTOCOL, SERVICE_PROTOCOL } from "./constants.ts";

/** Per node: the service protocol each connected peer answered with. */
const memory = new WeakMap<Libp2p, Map<string, string>>();

function peersOf(node: Libp2p): Map<string, string> {
  let peers = memory.get(node);
  if (peers === undefined) {
    peers = new Map();
    memory.set(node, peers);
    const known = peers;
    // A reconnected peer may be another build: it negotiates afresh.
    node.addEventListener("peer:disconnect", (event) => known.delete(event.detail.toString()));
  }
  return peers;
}

/**
 * The service protocols to offer `peer`, best first. multistream-select tries them one
 * round trip at a time: a peer that only speaks `/edgevpn/service/0.1` (a Go peer) costs an
 * extra round trip per stream until it is known, after which only that protocol is offered.
 *
 * @param node The dialing node.
 * @param peer The serving peer.
 * @returns The protocol list for `dialProtocol`.
 */
export function serviceProtocolsFor(node: Libp2p, peer: PeerId): string[] {
  return peersOf(node).get(peer.toString()) === SERVICE_PROTOCOL
    ? [SERVICE_PROTOCOL]
    : [SERVICE_ACK_PROTOCOL, SERVICE_PROTOCOL];
}

/**
 * Records the protocol `peer` answered with, for {@linkcode serviceProtocolsFor}; forgotten
 * when the peer disconnects.
 *
 * @param node The dialing node.
 * @param peer The serving peer.
 * @param protocol The negotiated protocol.
 */
export function rememberServiceProtocol(node: Libp2p, peer: PeerId, protocol: string): void {
  const peers = peersOf(node);
  if (peers.get(peer.toString()) !== protocol) peers.set(peer.toString(), protocol);
}
