/**
 * Finding peers: each member advertises a record (capabilities, pools, start time,
 * addresses) in a ledger bucket; `findPeers` selects the matching records and keeps the
 * members that answer a ping now, fastest first.
 *
 * @module
 */

import type { Multiaddr } from "@multiformats/multiaddr";
import type { PeerId, Startable } from "@libp2p/interface";
import { getLogger } from "@logtape/logtape";
import type { Ledger } from "../ledger/ledger.ts";
import type { Capabilities } from "./capabilities.ts";
import { ADVERTISE_INTERVAL_MS, HEALTHCHECK_MEMBERS_BUCKET } from "./constants.ts";
import type { HealthMonitor } from "./health.ts";
import { type MemberRecord, parseMemberRecord } from "./member_record.ts";
import { matchesQuery, type PeerMatch, type PeerQuery, rankMatches } from "./peer_query.ts";

const log = getLogger(["p2p", "messaging", "directory"]);

/** Options of `advertise`. */
export interface AdvertiseOptions {
  /** Pools this member serves, e.g. `["worker"]`. @default {[]} */
  pools?: string[];
}

/** The parts of a node the directory uses. */
export interface MemberDirectoryComponents {
  /** The node's ledger. */
  ledger: Ledger;
  /** The node's peer ID. */
  peerId: PeerId;
  /** The node's listen addresses. */
  getMultiaddrs(): Multiaddr[];
  /** Whether the node holds a connection to a peer. */
  isConnected(peerId: string): boolean;
  /** The health monitor: RTTs and pings. */
  health: HealthMonitor;
}

/** Options of the {@linkcode memberDirectory} component. */
export interface MemberDirectoryInit {
  /** The ledger bucket of member records. */
  bucket: string;
  /** When this node started, in milliseconds since the epoch. */
  startedAt: number;
  /** Whether a peer is denied (never returned). */
  isDenied: (peerId: string) => boolean;
  /** How often the record is rewritten (addresses, `updatedAt`). @default {30000} */
  refreshIntervalMs?: number;
  /** The clock, in milliseconds since the epoch. @default {Date.now} */
  now?: () => number;
}

/** The running directory: see {@linkcode memberDirectory}. */
export interface MemberDirectory extends Startable {
  /** Writes (and keeps announced) this member's record. */
  advertise(capabilities: Capabilities, options?: AdvertiseOptions): Promise<MemberRecord>;
  /** Removes this member's record. */
  withdraw(): Promise<void>;
  /** The valid records in the bucket, this node's included. */
  records(): MemberRecord[];
  /** The network's members known from the ledger (heartbeats and records), not this node. */
  members(): Set<string>;
  /** The online members matching `query`, fastest first. */
  findPeers(query?: PeerQuery): Promise<PeerMatch[]>;
}

class MemberDirectoryService implements MemberDirectory {
  readonly [Symbol.toStringTag] = "@p2p/messaging-directory";
  #c: MemberDirectoryComponents;
  #init: MemberDirectoryInit;
  #self: string;
  #now: () => number;
  #advertised: { capabilities: Capabilities; pools: string[] } | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;
  #started = false;
  #members: { block: unknown; ids: Set<string> } | undefined;

  constructor(components: MemberDirectoryComponents, init: MemberDirectoryInit) {
    this.#c = components;
    this.#init = init;
    this.#self = components.peerId.toString();
    this.#now = init.now ?? Date.now;
  }

  isStarted(): boolean {
    return this.#started;
  }

  start(): void {
    if (this.#started) return;
    this.#started = true;
    this.#timer = setInterval(() => {
      if (this.#advertised === undefined) return;
      this.#write().catch((error) => {
        log.warning("Cannot refresh the member record: {error}", { error: String(error) });
      });
    }, this.#init.refreshIntervalMs ?? ADVERTISE_INTERVAL_MS);
  }

  stop(): void {
    this.#started = false;
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

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

  async withdraw(): Promise<void> {
    if (this.#advertised === undefined) return;
    this.#advertised = undefined;
    await this.#c.ledger.delete(this.#init.bucket, this.#self);
  }

  records(): MemberRecord[] {
    const records: MemberRecord[] = [];
    for (const [key, value] of Object.entries(this.#c.ledger.bucket(this.#init.bucket))) {
      const record = parseMemberRecord(key, value);
      if (record !== undefined) records.push(record);
    }
    return records;
  }

  members(): Set<string> {
    const block = this.#c.ledger.block;
    if (this.#members?.block === block) return new Set(this.#members.ids);
    const ids = new Set([
      ...Object.keys(this.#c.ledger.bucket(HEALTHCHECK_MEMBERS_BUCKET)),
      ...this.records().map((r) => r.peerId),
    ]);
    ids.delete(this.#self);
    this.#members = { block, ids };
    return new Set(ids);
  }

  async findPeers(query: PeerQuery = {}): Promise<PeerMatch[]> {
    const now = this.#now();
    const candidates = this.records().filter((r) =>
      r.peerId !== this.#self && !this.#init.isDenied(r.peerId) && matchesQuery(r, query, now)
    );
    const measured = await Promise.all(candidates.map(async (record) => {
      const rttMs = await this.#c.health.measure(record.peerId, record.addresses);
      if (rttMs === undefined) return undefined;
      return {
        ...record,
        rttMs,
        uptimeS: Math.max(0, (now - record.startedAt) / 1000),
        connected: this.#c.isConnected(record.peerId),
      };
    }));
    return rankMatches(measured.filter((m) => m !== undefined), query);
  }

  async #write(): Promise<MemberRecord> {
    const advertised = this.#advertised;
    if (advertised === undefined) throw new Error("nothing advertised");
    const record: MemberRecord = {
      peerId: this.#self,
      capabilities: advertised.capabilities,
      pools: advertised.pools,
      startedAt: this.#init.startedAt,
      addresses: this.#c.getMultiaddrs().map((ma) => {
        const text = ma.toString();
        return text.includes("/p2p/") ? text : `${text}/p2p/${this.#self}`;
      }),
      updatedAt: this.#now(),
    };
    await this.#c.ledger.put(this.#init.bucket, this.#self, record);
    return record;
  }
}

/**
 * The member directory as a component (in the style of libp2p's `thing(init)` factories).
 * Used by `createNode`.
 *
 * @param init The bucket, start time, deny check and refresh interval.
 * @returns A factory taking the node's parts.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { memberDirectory } from "@p2p/p2p/messaging";
 * const factory = memberDirectory({ bucket: "p2p_members", startedAt: 0, isDenied: () => false });
 * assert.equal(typeof factory, "function");
 * ```
 */
export function memberDirectory(
  init: MemberDirectoryInit,
): (components: MemberDirectoryComponents) => MemberDirectory {
  return (components) => new MemberDirectoryService(components, init);
}
