import type { AbortOptions, Connection, PeerId } from "@libp2p/interface";
import type { ConnectionManager } from "@libp2p/interface-internal";
import { peerIdFromString } from "@libp2p/peer-id";
import type { Multiaddr } from "@multiformats/multiaddr";
import { isCircuit } from "./reachability.ts";
import { BackoffMap } from "./backoff.ts";
import { DIRECT_RETRY_BASE_MS, DIRECT_RETRY_MAX_MS } from "./constants.ts";

type Target = PeerId | Multiaddr | Multiaddr[];

function peerOf(target: Target): PeerId | undefined {
  if (!Array.isArray(target) && !("getComponents" in target)) return target as PeerId;
  const first = Array.isArray(target) ? target[0] : target;
  const id = first?.getComponents().findLast((c) => c.name === "p2p")?.value;
  try {
    return id === undefined ? undefined : peerIdFromString(id);
  } catch {
    return undefined;
  }
}

function asksForDirect(target: Target): boolean {
  if (!Array.isArray(target) && !("getComponents" in target)) return false;
  return (Array.isArray(target) ? target : [target as Multiaddr]).some((ma) => !isCircuit(ma));
}

/**
 * Makes `openConnection(peer)` return an open relayed (limited) connection when that is all
 * there is, instead of dialing the peer again (libp2p 3.3.11 re-dials every address of a peer
 * whose connections are all limited, on every ping and every stream: behind NATs that is a
 * dial that cannot succeed, each time). A dial is still made when asked for with `force`, or
 * for a direct address (DCUtR, a tunnel looking for another path), and in the background now
 * and then (spaced by a per-peer backoff), so a peer that became reachable directly (a UPnP
 * mapping, a new address) is reached directly.
 *
 * @param connectionManager The node's connection manager (patched in place).
 */
export function reuseLimitedConnections(connectionManager: ConnectionManager): void {
  const open = connectionManager.openConnection.bind(connectionManager);
  const upgrades = new BackoffMap<string>({
    baseMs: DIRECT_RETRY_BASE_MS,
    maxMs: DIRECT_RETRY_MAX_MS,
  });
  connectionManager.openConnection = (
    target: Target,
    options: AbortOptions & { force?: boolean } = {},
  ): Promise<Connection> => {
    const peer = options.force === true || asksForDirect(target) ? undefined : peerOf(target);
    if (peer !== undefined) {
      const existing = connectionManager.getConnections(peer).filter((c) => c.status === "open");
      const unlimited = existing.find((c) => c.limits === undefined);
      if (unlimited !== undefined) return Promise.resolve(unlimited);
      if (existing[0] !== undefined) {
        const id = peer.toString();
        if (!upgrades.isHeld(id, Date.now())) {
          upgrades.fail(id, Date.now()); // spaces the next attempt, success or not
          open(peer, {}).catch(() => {});
        }
        return Promise.resolve(existing[0]);
      }
    }
    return open(target, options);
  };
}
