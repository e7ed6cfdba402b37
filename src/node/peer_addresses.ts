import type { PeerId, PeerStore } from "@libp2p/interface";
import { type Multiaddr, multiaddr } from "@multiformats/multiaddr";

/**
 * Gives the peer store addresses to dial `peer` at (ones it signed, or a watcher vouches for):
 * the ones that do not parse are skipped, and a failed write only leaves the dial without them.
 *
 * @param peerStore The node's peer store.
 * @param peer The peer the addresses are for.
 * @param addresses Multiaddrs as text.
 */
export async function learnAddresses(
  peerStore: PeerStore,
  peer: PeerId,
  addresses: readonly string[],
): Promise<void> {
  const multiaddrs = addresses.flatMap((address): Multiaddr[] => {
    try {
      return [multiaddr(address)];
    } catch {
      return [];
    }
  });
  if (multiaddrs.length === 0) return;
  await peerStore.merge(peer, { multiaddrs }).catch(() => {});
}
