/**
 * A cheaper peer store. Every call of libp2p 3's peer store takes a lock and reads the peer's
 * whole record from the datastore: a protobuf decode, and a multiaddr object per address;
 * every merge then encodes and writes it back, changed or not. Two callers make that the
 * main cost of an idle member:
 *
 * - libp2p records the protocol of **every** stream it opens or accepts with
 *   `merge(peer, { protocols: [protocol] })`: with one tunnel stream per client connection,
 *   about a tenth of the CPU a connection cost;
 * - with the DHT on, every peer named in a DHT answer is merged with its addresses
 *   (`merge(peer, { multiaddrs })`, libp2p's peer discovery), and every DHT request answered
 *   reads the record of each of the closest peers. In a formed 20-node network that was 140
 *   peer store calls per node and second, the same peers with the same addresses each time.
 *
 * {@linkcode cachePeerStore} wraps one node's peer store so that
 *
 * - a merge that only adds protocols the peer is already recorded with returns the last known
 *   record at once;
 * - a merge that only adds addresses the peer is already recorded with does too, for
 *   {@linkcode PEER_STORE_ADDRESS_REFRESH_MS} after the last merge that went through (a merge
 *   also renews the addresses' age, which the peer store expires after an hour);
 * - a read within {@linkcode PEER_STORE_READ_CACHE_MS} of the last one, or of a write, returns
 *   that record.
 *
 * Any other call goes through, and every write through the store, every `peer:update` event
 * and every delete refreshes or drops what is known, so the cache never hides a change.
 *
 * @module
 */
import type { Libp2p, Peer, PeerData, PeerId, PeerStore } from "@libp2p/interface";
import {
  PEER_STORE_ADDRESS_REFRESH_MS,
  PEER_STORE_CACHE_MAX_PEERS,
  PEER_STORE_READ_CACHE_MS,
} from "./deno_tcp_constants.ts";

interface Known {
  peer: Peer;
  protocols: Set<string>;
  addresses: Set<string>;
  /** When the record was last read or written. */
  seenAt: number;
  /** When a merge last went through (the addresses' age was renewed). */
  mergedAt: number;
}

/** Whether `data` sets `key` and nothing else. */
function only(data: Partial<PeerData>, key: keyof PeerData): boolean {
  if (!Array.isArray(data[key])) return false;
  for (const other in data) {
    if (other !== key && (data as Record<string, unknown>)[other] !== undefined) return false;
  }
  return true;
}

const WRAPPED = Symbol.for("p2p.peerStoreCache");

/**
 * Answers no-op merges and repeated reads of one node's peer store from memory.
 *
 * @param node The node whose peer store (the instance libp2p's components use) is wrapped.
 * @param now The clock, in milliseconds. @default {performance.now}
 */
export function cachePeerStore(node: Libp2p, now: () => number = () => performance.now()): void {
  const store = node.peerStore as PeerStore & { [WRAPPED]?: true };
  if (store[WRAPPED]) return;
  const known = new Map<string, Known>();
  const remember = (peer: Peer, merged: boolean): void => {
    const key = peer.id.toString();
    const at = now();
    const previous = known.get(key);
    if (previous === undefined && known.size >= PEER_STORE_CACHE_MAX_PEERS) known.clear();
    known.set(key, {
      peer,
      protocols: new Set(peer.protocols),
      addresses: new Set(peer.addresses.map((a) => a.multiaddr.toString())),
      seenAt: at,
      mergedAt: merged ? at : previous?.mergedAt ?? Number.NEGATIVE_INFINITY,
    });
  };
  const isNoOp = (entry: Known, data: PeerData): boolean => {
    if (only(data, "protocols")) return data.protocols!.every((p) => entry.protocols.has(p));
    if (only(data, "multiaddrs")) {
      return now() - entry.mergedAt < PEER_STORE_ADDRESS_REFRESH_MS &&
        data.multiaddrs!.every((m) => entry.addresses.has(m.toString()));
    }
    return false;
  };

  // `consumePeerRecord` reads and patches through these (`this.get`, `this.patch`).
  const { merge, patch, save, get, delete: remove } = store;
  store.merge = async (id: PeerId, data: PeerData, options?) => {
    const entry = known.get(id.toString());
    if (entry !== undefined && isNoOp(entry, data)) return entry.peer;
    const peer = await merge.call(store, id, data, options);
    remember(peer, true);
    return peer;
  };
  // A patch or a save replaces the record: what it returns is what the cache knows.
  const writingThrough =
    (write: PeerStore["patch"]): PeerStore["patch"] => async (id, data, options?) => {
      const peer = await write.call(store, id, data, options);
      remember(peer, true);
      return peer;
    };
  store.patch = writingThrough(patch);
  store.save = writingThrough(save);
  store.get = async (id: PeerId, options?) => {
    const entry = known.get(id.toString());
    if (entry !== undefined && now() - entry.seenAt < PEER_STORE_READ_CACHE_MS) return entry.peer;
    const peer = await get.call(store, id, options);
    remember(peer, false);
    return peer;
  };
  store.delete = async (id: PeerId, options?) => {
    known.delete(id.toString());
    await remove.call(store, id, options);
  };
  store[WRAPPED] = true;
  // Whatever changed a record is what the cache must know.
  node.addEventListener("peer:update", (event) => {
    const { peer } = event.detail;
    if (known.has(peer.id.toString())) remember(peer, false);
  });
  node.addEventListener("peer:disconnect", (event) => {
    known.delete(event.detail.toString());
  });
}
