/**
 * Finding members by what they offer: each advertises a signed record (capabilities, pools,
 * addresses) in the members bucket of the ledger; `findPeers` reads the records their own
 * peers signed, keeps the members that match and answer, and ranks them by round trip.
 *
 * Members are the network's: peers that proved they hold the token. Round trips and redials
 * are the network's liveness. This module only adds the records.
 *
 * @module
 */

import { peerIdFromString } from "@libp2p/peer-id";
import { getLogger } from "@logtape/logtape";
import type { EffectiveEntry } from "../ledger/claims.ts";
import type { Network } from "../network/network.ts";
import { learnAddresses } from "../node/peer_addresses.ts";
import { ADMISSION_WAIT_MS } from "../services/constants.ts";
import type { Capabilities } from "./capabilities.ts";
import { ADVERTISE_INTERVAL_MS, MEMBERS_BUCKET } from "./constants.ts";
import { type MemberRecord, parseMemberRecord } from "./member_record.ts";
import { matchesQuery, type PeerMatch, type PeerQuery, rankMatches } from "./peer_query.ts";

const log = getLogger(["p2p", "messaging", "directory"]);

/** Options of `advertise`. */
export interface AdvertiseOptions {
  /** Pools the member serves, e.g. `["worker"]`. */
  pools?: string[];
}

/** Options of a {@linkcode MemberDirectory}. */
export interface MemberDirectoryInit {
  /** Whether a peer is denied (it is then never returned). */
  isDenied: (peerId: string) => boolean;
  /** Period of the record's refresh. @default {30000} */
  refreshIntervalMs?: number;
}

/** The members bucket of a network (with its `--network-id` prefix). */
export function membersBucket(network: Network): string {
  return network.networkId === undefined
    ? MEMBERS_BUCKET
    : `${network.networkId}_${MEMBERS_BUCKET}`;
}

/** This node's advertisement and the other members' records, on one network. */
export class MemberDirectory {
  #network: Network;
  #init: MemberDirectoryInit;
  #bucket: string;
  #advertised: { capabilities: Capabilities; pools: string[] } | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;

  /**
   * @param network The running network.
   * @param init The deny check and the refresh period.
   */
  constructor(network: Network, init: MemberDirectoryInit) {
    this.#network = network;
    this.#init = init;
    this.#bucket = membersBucket(network);
  }

  /** Starts refreshing this node's record (once it advertised). */
  start(): void {
    this.#timer ??= setInterval(() => {
      if (this.#advertised === undefined) return;
      this.#write().catch((error) => {
        log.warning("Cannot refresh the member record: {error}", { error: String(error) });
      });
    }, this.#init.refreshIntervalMs ?? ADVERTISE_INTERVAL_MS);
  }

  /** Stops refreshing. */
  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Writes (and keeps refreshing) this node's record. */
  async advertise(
    capabilities: Capabilities,
    options: AdvertiseOptions = {},
  ): Promise<MemberRecord> {
    this.#advertised = {
      capabilities: structuredClone(capabilities),
      pools: [...(options.pools ?? [])],
    };
    return await this.#write();
  }

  /** Deletes this node's record. */
  async withdraw(): Promise<void> {
    if (this.#advertised === undefined) return;
    this.#advertised = undefined;
    await this.#network.ledger.delete(this.#bucket, this.#network.peerId.toString());
  }

  /** The records their own peers signed (a record written about someone else is ignored). */
  records(): MemberRecord[] {
    const records: MemberRecord[] = [];
    for (const [key, entry] of this.#network.claims.entries(this.#bucket)) {
      const record = ownRecord(key, entry);
      if (record !== undefined) records.push(record);
    }
    return records;
  }

  /**
   * Gives the peer store the addresses `peer` signed in its record, unless it is connected: a
   * member this node knows only from the ledger (the DHT off, NATed nodes behind a relay) is
   * then dialled where it said it is.
   */
  async learnAddresses(peer: string): Promise<void> {
    if (this.#network.isConnected(peer)) return;
    const entry = this.#network.claims.get(this.#bucket, peer);
    const record = entry === undefined ? undefined : ownRecord(peer, entry);
    if (record === undefined) return;
    await learnAddresses(this.#network.node.peerStore, peerIdFromString(peer), record.addresses);
  }

  /**
   * Members that match `query` and answer, fastest first. A record's peer that has not proved
   * membership to this node yet (it reached this node's ledger through another member) is
   * dialled like the others; it proves membership on that connection or is left out.
   */
  async findPeers(query: PeerQuery = {}): Promise<PeerMatch[]> {
    const now = this.#network.now();
    const self = this.#network.peerId.toString();
    const membership = this.#network.membership;
    const candidates = this.records().filter((r) =>
      r.peerId !== self && !this.#init.isDenied(r.peerId) && !membership.failedProof(r.peerId) &&
      matchesQuery(r, query, now)
    );
    const measured = await Promise.all(candidates.map(async (record) => {
      const rttMs = await this.#network.liveness.measure(record.peerId, record.addresses);
      if (rttMs === undefined || !await this.#proven(record.peerId)) return undefined;
      return {
        ...record,
        rttMs,
        uptimeS: Math.max(0, (now - record.startedAt) / 1000),
        connected: this.#network.isConnected(record.peerId),
      };
    }));
    return rankMatches(measured.filter((m) => m !== undefined), query);
  }

  /** Whether `peer` (connected) is a member, challenging it now if it has not proved it yet. */
  async #proven(peer: string): Promise<boolean> {
    const membership = this.#network.membership;
    if (membership.isMember(peer)) return true;
    const connection = this.#network.node.getConnections(peerIdFromString(peer))[0];
    return await membership.waitForMember(peer, AbortSignal.timeout(ADMISSION_WAIT_MS), connection);
  }

  async #write(): Promise<MemberRecord> {
    const advertised = this.#advertised;
    if (advertised === undefined) throw new Error("nothing advertised");
    const self = this.#network.peerId.toString();
    const record: MemberRecord = {
      peerId: self,
      capabilities: advertised.capabilities,
      pools: advertised.pools,
      startedAt: this.#network.startedAt,
      addresses: this.#network.addresses().map((a) => a.includes("/p2p/") ? a : `${a}/p2p/${self}`),
      updatedAt: this.#network.now(),
    };
    await this.#network.ledger.put(
      this.#bucket,
      self,
      await this.#network.sign(this.#bucket, self, record),
    );
    return record;
  }
}

/** The record under `key` if its own peer signed it (a record about someone else is ignored). */
function ownRecord(key: string, entry: EffectiveEntry): MemberRecord | undefined {
  return entry.signer === key ? parseMemberRecord(key, entry.value) : undefined;
}
