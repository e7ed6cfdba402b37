import type { PeerId } from "@libp2p/interface";
import { peerIdFromString } from "@libp2p/peer-id";

/** Parsed peer IDs, by their string form; cleared when it reaches this many. */
const MAX_CACHED = 4096;
const cache = new Map<string, PeerId>();

/**
 * `peerIdFromString`, memoised: a tunnel opened per client connection would otherwise decode
 * the same base58 ID, and then encode it again for every map lookup (a `PeerId` caches its
 * string form, a fresh one has none yet).
 *
 * @param id A peer ID string.
 * @returns The same `PeerId` object for the same string.
 * @throws {Error} `id` is not a peer ID.
 */
export function peerIdOf(id: string): PeerId {
  let peer = cache.get(id);
  if (peer === undefined) {
    peer = peerIdFromString(id);
    if (cache.size >= MAX_CACHED) cache.clear();
    cache.set(id, peer);
  }
  return peer;
}
