/**
 * Cheaper stream opening: libp2p 3 records the protocol of **every** stream it opens or
 * accepts with `peerStore.merge(peer, { protocols: [protocol] })` — a datastore read, a
 * protobuf decode and re-encode, a comparison and a write lock, each time, although after the
 * first stream the peer is known to speak the protocol. With one tunnel stream per client
 * connection that was about a tenth of the CPU a connection costs.
 *
 * {@linkcode cacheProtocolMerges} wraps one node's peer store so that a merge that only adds
 * protocols the peer is already recorded with returns the last known record at once. Any
 * other merge goes through, and every `peer:update` event refreshes what is known, so the
 * cache never hides a change made by identify or by anything else.
 *
 * @module
 */
import type { Libp2p, Peer, PeerData, PeerId, PeerStore } from "@libp2p/interface";
import { PROTOCOL_MERGE_CACHE_MAX_PEERS } from "./deno_tcp_constants.ts";

interface Known {
  peer: Peer;
  protocols: Set<string>;
}

function onlyProtocols(data: Partial<PeerData>): data is { protocols: string[] } {
  if (!Array.isArray(data.protocols)) return false;
  for (const key in data) {
    if (key !== "protocols" && (data as Record<string, unknown>)[key] !== undefined) return false;
  }
  return true;
}

const WRAPPED = Symbol.for("p2p.protocolMergeCache");

/**
 * Short-circuits protocol-only `peerStore.merge` calls that would change nothing.
 *
 * @param node The node whose peer store (the instance libp2p's connections use) is wrapped.
 */
export function cacheProtocolMerges(node: Libp2p): void {
  const store = node.peerStore as PeerStore & { [WRAPPED]?: true };
  if (store[WRAPPED]) return;
  const known = new Map<string, Known>();
  const remember = (peer: Peer): void => {
    if (known.size >= PROTOCOL_MERGE_CACHE_MAX_PEERS) known.clear();
    known.set(peer.id.toString(), { peer, protocols: new Set(peer.protocols) });
  };
  const merge = store.merge.bind(store);
  store.merge = async (id: PeerId, data: PeerData, options?) => {
    if (onlyProtocols(data)) {
      const entry = known.get(id.toString());
      if (entry !== undefined && data.protocols.every((p) => entry.protocols.has(p))) {
        return entry.peer;
      }
    }
    const peer = await merge(id, data, options);
    remember(peer);
    return peer;
  };
  store[WRAPPED] = true;
  // Whatever changed a record (identify, a patch, a delete) is what the cache must know.
  node.addEventListener("peer:update", (event) => {
    const { peer } = event.detail;
    if (known.has(peer.id.toString())) remember(peer);
  });
  node.addEventListener("peer:disconnect", (event) => {
    known.delete(event.detail.toString());
  });
}
