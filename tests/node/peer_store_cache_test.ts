// The peer store cache against a counting in-memory store and a hand-driven clock: which calls
// it answers from memory, which go through, and what makes it forget.
import assert from "node:assert/strict";
import { generateKeyPair } from "@libp2p/crypto/keys";
import type { Libp2p, Peer, PeerData, PeerId } from "@libp2p/interface";
import { peerIdFromPrivateKey } from "@libp2p/peer-id";
import { type Multiaddr, multiaddr } from "@multiformats/multiaddr";
import { cachePeerStore } from "../../src/node/peer_store_cache.ts";
import {
  PEER_STORE_ADDRESS_REFRESH_MS,
  PEER_STORE_READ_CACHE_MS,
} from "../../src/node/deno_tcp_constants.ts";

const A = multiaddr("/ip4/10.0.0.1/tcp/4001");
const B = multiaddr("/ip4/10.0.0.2/tcp/4001");

/** A peer store that keeps records in a map and counts the calls that reach it. */
function countingNode() {
  const records = new Map<string, { addresses: Multiaddr[]; protocols: string[] }>();
  const calls = { merge: 0, patch: 0, get: 0, delete: 0 };
  const listeners = new Map<string, ((event: CustomEvent) => void)[]>();
  const toPeer = (id: PeerId): Peer => {
    const record = records.get(id.toString());
    if (record === undefined) {
      throw Object.assign(new Error("Not found"), { name: "NotFoundError" });
    }
    return {
      id,
      addresses: record.addresses.map((m) => ({ multiaddr: m, isCertified: false })),
      protocols: [...record.protocols],
      metadata: new Map(),
      tags: new Map(),
    };
  };
  const write = (id: PeerId, data: PeerData, replace: boolean): Peer => {
    const old = replace ? undefined : records.get(id.toString());
    const addresses = [...(old?.addresses ?? [])];
    for (const m of data.multiaddrs ?? []) {
      if (!addresses.some((a) => a.equals(m))) addresses.push(m);
    }
    const protocols = [...new Set([...(old?.protocols ?? []), ...(data.protocols ?? [])])];
    records.set(id.toString(), { addresses, protocols });
    return toPeer(id);
  };
  const peerStore = {
    merge(id: PeerId, data: PeerData) {
      calls.merge++;
      return Promise.resolve(write(id, data, false));
    },
    patch(id: PeerId, data: PeerData) {
      calls.patch++;
      return Promise.resolve(write(id, data, true));
    },
    save(id: PeerId, data: PeerData) {
      return Promise.resolve(write(id, data, true));
    },
    get(id: PeerId) {
      calls.get++;
      return Promise.resolve().then(() => toPeer(id));
    },
    delete(id: PeerId) {
      calls.delete++;
      records.delete(id.toString());
      return Promise.resolve();
    },
  };
  const node = {
    peerStore,
    addEventListener(type: string, listener: (event: CustomEvent) => void) {
      listeners.set(type, [...(listeners.get(type) ?? []), listener]);
    },
  };
  const emit = (type: string, detail: unknown): void => {
    for (const listener of listeners.get(type) ?? []) listener(new CustomEvent(type, { detail }));
  };
  return { node: node as unknown as Libp2p, store: node.peerStore, calls, records, emit, toPeer };
}

async function setUp() {
  const fake = countingNode();
  const clock = { now: 0 };
  cachePeerStore(fake.node, () => clock.now);
  const id = peerIdFromPrivateKey(await generateKeyPair("Ed25519"));
  return { ...fake, store: fake.node.peerStore, clock, id };
}

Deno.test("peer store cache: a merge of known protocols returns the record without a write", async () => {
  const { store, calls, id } = await setUp();
  await store.merge(id, { protocols: ["/a/1"] });
  const same = await store.merge(id, { protocols: ["/a/1"] });
  assert.deepEqual(same.protocols, ["/a/1"]);
  assert.equal(calls.merge, 1);
  await store.merge(id, { protocols: ["/b/1"] });
  assert.equal(calls.merge, 2, "a new protocol goes through");
});

Deno.test("peer store cache: known addresses are merged again only after the refresh period", async () => {
  const { store, calls, clock, id } = await setUp();
  await store.merge(id, { multiaddrs: [A] });
  clock.now = PEER_STORE_ADDRESS_REFRESH_MS - 1;
  const same = await store.merge(id, { multiaddrs: [A] });
  assert.deepEqual(same.addresses.map((a) => a.multiaddr.toString()), [A.toString()]);
  assert.equal(calls.merge, 1, "within the period: answered from memory");

  const more = await store.merge(id, { multiaddrs: [A, B] });
  assert.equal(calls.merge, 2, "a new address goes through");
  assert.equal(more.addresses.length, 2);

  clock.now += PEER_STORE_ADDRESS_REFRESH_MS - 1;
  await store.merge(id, { multiaddrs: [B] });
  assert.equal(calls.merge, 2, "the period restarts at the last merge that went through");
  clock.now += 1;
  await store.merge(id, { multiaddrs: [B] });
  assert.equal(calls.merge, 3, "then one goes through, renewing the addresses' age");
});

Deno.test("peer store cache: a merge that sets anything else, or more than one field, goes through", async () => {
  const { store, calls, id } = await setUp();
  await store.merge(id, { multiaddrs: [A], protocols: ["/a/1"] });
  await store.merge(id, { multiaddrs: [A], protocols: ["/a/1"] });
  await store.merge(id, { tags: { t: { value: 1 } } });
  assert.equal(calls.merge, 3);
});

Deno.test("peer store cache: a read reuses the last record for a while, then reads again", async () => {
  const { store, calls, clock, id } = await setUp();
  await store.merge(id, { protocols: ["/a/1"] });
  const fresh = await store.get(id);
  assert.deepEqual(fresh.protocols, ["/a/1"]);
  assert.equal(calls.get, 0, "the merge's record serves the read");
  clock.now = PEER_STORE_READ_CACHE_MS - 1;
  await store.get(id);
  assert.equal(calls.get, 0);
  clock.now = PEER_STORE_READ_CACHE_MS;
  await store.get(id);
  assert.equal(calls.get, 1, "then the store is read");
  await store.get(id);
  assert.equal(calls.get, 1, "and that read serves the next ones");
});

Deno.test("peer store cache: writes, deletes and peer:update events are never hidden", async () => {
  const { store, calls, emit, id, records, toPeer } = await setUp();
  await store.merge(id, { multiaddrs: [A], protocols: ["/a/1"] });

  // A patch replaces the record: reads and merges see the new one at once.
  await store.patch(id, { protocols: [] });
  assert.deepEqual((await store.get(id)).protocols, []);
  await store.merge(id, { protocols: ["/a/1"] });
  assert.equal(calls.merge, 2, "the dropped protocol is merged again");

  // A change made elsewhere and announced with peer:update.
  records.set(id.toString(), { addresses: [], protocols: ["/a/1"] });
  emit("peer:update", { peer: toPeer(id) });
  assert.deepEqual((await store.get(id)).addresses, []);
  await store.merge(id, { multiaddrs: [A] });
  assert.equal(calls.merge, 3, "the address it lost is merged again");

  // A delete: the next read reaches the store, which no longer has the peer.
  await store.delete(id);
  await assert.rejects(store.get(id), { name: "NotFoundError" });
  assert.equal(calls.get, 1);
});

Deno.test("peer store cache: a disconnected peer is forgotten", async () => {
  const { store, calls, emit, id } = await setUp();
  await store.merge(id, { multiaddrs: [A] });
  emit("peer:disconnect", id);
  await store.get(id);
  assert.equal(calls.get, 1, "read from the store");
  // What the read found stands for the record, but not for the last merge's time.
  await store.merge(id, { multiaddrs: [A] });
  assert.equal(calls.merge, 2);
});
