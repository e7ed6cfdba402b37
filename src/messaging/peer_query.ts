/**
 * Selecting and ranking members for `findPeers`. Pure: no IO, the time is a parameter.
 *
 * @module
 */

import { type Capabilities, matchCapabilities } from "./capabilities.ts";
import type { MemberRecord } from "./member_record.ts";

/** What `findPeers` looks for. Every field given must match. */
export interface PeerQuery {
  /** A pool the member must serve. */
  pool?: string;
  /** Capabilities the member must have (see {@linkcode matchCapabilities}). */
  capabilities?: Capabilities;
  /** Highest round-trip time accepted, in milliseconds. */
  maxLatencyMs?: number;
  /** Least time the member's node must have been running, in seconds. */
  minUptimeS?: number;
  /** Most results returned (the fastest). */
  limit?: number;
}

/** A member found by `findPeers`: its record and how it answers now. */
export interface PeerMatch extends MemberRecord {
  /** Measured round-trip time, in milliseconds. */
  rttMs: number;
  /** Seconds since the member's node started. */
  uptimeS: number;
  /** Whether this node holds a connection to it. */
  connected: boolean;
}

/**
 * Tells whether a member record matches the static part of a query: pool, capabilities and
 * uptime (latency needs a measurement, see {@linkcode rankMatches}).
 *
 * @param record The member's record.
 * @param query The query.
 * @param nowMs The current time, in milliseconds since the epoch.
 * @returns Whether the record matches.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { matchesQuery } from "./peer_query.ts";
 *
 * const record = {
 *   peerId: "12D3KooWPeer",
 *   capabilities: { models: ["llama3"] },
 *   pools: ["worker"],
 *   startedAt: 0,
 *   addresses: [],
 *   updatedAt: 0,
 * };
 * assert.equal(matchesQuery(record, { pool: "worker", minUptimeS: 5 }, 10_000), true);
 * assert.equal(matchesQuery(record, { minUptimeS: 60 }, 10_000), false);
 * assert.equal(matchesQuery(record, { capabilities: { models: ["phi3"] } }, 10_000), false);
 * ```
 */
export function matchesQuery(record: MemberRecord, query: PeerQuery, nowMs: number): boolean {
  if (query.pool !== undefined && !record.pools.includes(query.pool)) return false;
  if (
    query.capabilities !== undefined && !matchCapabilities(query.capabilities, record.capabilities)
  ) {
    return false;
  }
  if (query.minUptimeS !== undefined && (nowMs - record.startedAt) / 1000 < query.minUptimeS) {
    return false;
  }
  return true;
}

/**
 * Keeps the matches within the query's latency bound and orders them fastest first (ties by
 * peer ID, so the order is stable), then applies the query's limit.
 *
 * @param matches Online members with their measured round-trip time.
 * @param query The query.
 * @returns The ranked matches.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { type PeerMatch } from "@p2p/p2p";
 * import { rankMatches } from "./peer_query.ts";
 *
 * const match = (peerId: string, rttMs: number): PeerMatch => ({
 *   peerId,
 *   rttMs,
 *   capabilities: {},
 *   pools: [],
 *   startedAt: 0,
 *   addresses: [],
 *   updatedAt: 0,
 *   uptimeS: 0,
 *   connected: true,
 * });
 * const ranked = rankMatches([match("c", 9), match("a", 3), match("b", 50)], { maxLatencyMs: 10 });
 * assert.deepEqual(ranked.map((m) => m.peerId), ["a", "c"]);
 * ```
 */
export function rankMatches(matches: readonly PeerMatch[], query: PeerQuery): PeerMatch[] {
  const kept = matches
    .filter((m) => query.maxLatencyMs === undefined || m.rttMs <= query.maxLatencyMs)
    .sort((a, b) => a.rttMs - b.rttMs || (a.peerId < b.peerId ? -1 : a.peerId > b.peerId ? 1 : 0));
  return query.limit === undefined ? kept : kept.slice(0, Math.max(0, query.limit));
}
