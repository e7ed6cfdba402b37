/**
 * The record a member advertises in the ledger. Pure: no IO.
 *
 * @module
 */

import type { Capabilities } from "./capabilities.ts";

/** What `advertise()` writes under the member's peer ID in the members bucket. */
export interface MemberRecord {
  /** The member's peer ID (also the ledger key). */
  peerId: string;
  /** Free-form capabilities, e.g. `{ models: ["llama3"] }`. */
  capabilities: Capabilities;
  /** Pools the member serves, e.g. `["worker"]`. */
  pools: string[];
  /** When the member's node started, in milliseconds since the epoch (its clock). */
  startedAt: number;
  /** The member's listen addresses, with `/p2p/<id>`. */
  addresses: string[];
  /** When the record was last written, in milliseconds since the epoch (its clock). */
  updatedAt: number;
}

/**
 * Validates a value read from the members bucket. Records written by other software, or
 * damaged, are ignored rather than trusted.
 *
 * @param key The ledger key (must equal the record's `peerId`).
 * @param value The parsed ledger value.
 * @returns The record, or `undefined` if it is not a valid record for `key`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseMemberRecord } from "./member_record.ts";
 *
 * const record = {
 *   peerId: "12D3KooWPeer",
 *   capabilities: { models: ["llama3"] },
 *   pools: ["worker"],
 *   startedAt: 1,
 *   addresses: [],
 *   updatedAt: 2,
 * };
 * assert.deepEqual(parseMemberRecord("12D3KooWPeer", record), record);
 * assert.equal(parseMemberRecord("12D3KooWOther", record), undefined);
 * assert.equal(parseMemberRecord("12D3KooWPeer", "garbage"), undefined);
 * ```
 */
export function parseMemberRecord(key: string, value: unknown): MemberRecord | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  const v = value as Record<string, unknown>;
  if (v.peerId !== key) return undefined;
  const capabilities = v.capabilities;
  if (typeof capabilities !== "object" || capabilities === null || Array.isArray(capabilities)) {
    return undefined;
  }
  if (!isStringArray(v.pools) || !isStringArray(v.addresses)) return undefined;
  if (!isTime(v.startedAt) || !isTime(v.updatedAt)) return undefined;
  // Copies: the ledger's parsed values are shared between readers and frozen.
  return {
    peerId: key,
    capabilities: structuredClone(capabilities) as Capabilities,
    pools: [...v.pools],
    startedAt: v.startedAt,
    addresses: [...v.addresses],
    updatedAt: v.updatedAt,
  };
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === "string");
}

function isTime(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value) && value >= 0;
}
