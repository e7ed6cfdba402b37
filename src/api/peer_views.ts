import type { Connection } from "@libp2p/interface";
import type { Network } from "../network/network.ts";
import { isCircuit, type Reachability } from "../node/reachability.ts";
import type { ReservationView } from "../node/relay_client.ts";
import { isTight } from "../services/tunnel_path.ts";

/** The path one connection takes, as the API shows it. */
export interface ConnectionPath {
  /** Who dialed: `outbound` when this node did. */
  direction: "inbound" | "outbound";
  /** Whether the connection runs through a relay. */
  relayed: boolean;
  /** The relay's peer ID, when relayed. */
  relay?: string;
  /** What the relay still allows on it, when it is limited. */
  limits?: { bytes?: number; seconds?: number };
  /** Whether those limits are too tight for a long tunnel (a stock relay's 128 KiB, 2 min). */
  tight: boolean;
}

/** One connected peer as `GET /api/peers` shows it. */
export interface PeerView extends ConnectionPath {
  peerId: string;
  /** The remote address of each connection to the peer, the one described first. */
  addresses: string[];
  /** When the described connection opened (ISO 8601). */
  openedAt: string;
  /** Whether the peer proved it holds the network token. */
  member: boolean;
  /** Round-trip time measured by the connection monitor, in ms. */
  latencyMs?: number;
}

/**
 * The path of `connection`: direct or through which relay, and its limits.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { multiaddr } from "@multiformats/multiaddr";
 * import { connectionPath } from "./peer_views.ts";
 *
 * const relayed = {
 *   direction: "outbound",
 *   remoteAddr: multiaddr("/ip4/11.0.0.1/tcp/4001/p2p/12D3KooWRVvgYVVqbB6xhnRsJxDw6Sos4UaWEgTG3oNq7Cc9Zk3z/p2p-circuit/p2p/12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo"),
 *   limits: { seconds: 1799 },
 * } as never;
 * assert.deepEqual(connectionPath(relayed), {
 *   direction: "outbound",
 *   relayed: true,
 *   relay: "12D3KooWRVvgYVVqbB6xhnRsJxDw6Sos4UaWEgTG3oNq7Cc9Zk3z",
 *   limits: { seconds: 1799 },
 *   tight: false,
 * });
 * ```
 */
export function connectionPath(connection: Connection): ConnectionPath {
  const parts = connection.remoteAddr.getComponents();
  const circuitAt = parts.findIndex((c) => c.name === "p2p-circuit");
  const path: ConnectionPath = {
    direction: connection.direction,
    relayed: circuitAt >= 0,
    tight: isTight(connection),
  };
  if (circuitAt > 0) {
    const relay = parts.slice(0, circuitAt).findLast((c) => c.name === "p2p")?.value;
    if (relay !== undefined) path.relay = relay;
  }
  // The relay client's limit tracker exposes bytes/seconds as getters, read them now.
  const limits = connection.limits;
  if (limits !== undefined) {
    path.limits = {
      ...(limits.bytes === undefined ? {} : { bytes: Number(limits.bytes) }),
      ...(limits.seconds === undefined ? {} : { seconds: limits.seconds }),
    };
  }
  return path;
}

/** Direct before relayed, unlimited before limited, older first. */
function better(a: Connection, b: Connection): number {
  const rank = (c: Connection) => (isCircuit(c.remoteAddr) ? 2 : 0) + (c.limits ? 1 : 0);
  return rank(a) - rank(b) || a.timeline.open - b.timeline.open;
}

/** Every connected peer: the best connection to it described, all its addresses listed. */
export function peersOf(network: Network): PeerView[] {
  const byPeer = new Map<string, Connection[]>();
  for (const conn of network.node.getConnections()) {
    const id = conn.remotePeer.toString();
    byPeer.set(id, [...(byPeer.get(id) ?? []), conn]);
  }
  const views: PeerView[] = [];
  for (const [peerId, connections] of byPeer) {
    const sorted = connections.sort(better);
    const best = sorted[0]!;
    const rtt = (best as { rtt?: number }).rtt;
    views.push({
      peerId,
      addresses: sorted.map((c) => c.remoteAddr.toString()),
      ...connectionPath(best),
      openedAt: new Date(best.timeline.open).toISOString(),
      member: network.membership.isMember(peerId),
      ...(rtt === undefined ? {} : { latencyMs: rtt }),
    });
  }
  return views.sort((a, b) => a.peerId.localeCompare(b.peerId));
}

/** How the node is reached, as `GET /api/node` shows it. */
export interface NatView {
  reachability: Reachability;
  announced: string[];
  verified: string[];
  reservations: ReservationView[];
  /** The relay service, when it runs: reservations others hold on us, circuits relayed now. */
  relayService?: { reservations: number; circuits: number };
}

/** The node's reachability, addresses and reservations. */
export function natOf(network: Network): NatView {
  const { relayClient, relay } = network.node.services;
  return {
    reachability: relayClient.reachability(),
    ...relayClient.addresses(),
    reservations: relayClient.reservations(),
    ...(relay === undefined
      ? {}
      : { relayService: { reservations: relay.reservations.size, circuits: relay.circuits } }),
  };
}
