/** `services` bucket value: who serves a named service (edgevpn `types.Service`). */
export interface ServiceRecord {
  /** The peer ID of the node serving it. */
  PeerID: string;
  /** The service name (the key of the entry). */
  Name: string;
  /** The serving node's addresses (ours; Go peers ignore it): dialed without a DHT lookup. */
  Multiaddrs?: string[];
  /** p2p's signature by `PeerID`'s key (see `signEntry`); LocalAI peers write none. */
  Signature?: string;
}

/** `users` bucket value: a consumer allowed to open service streams (edgevpn `types.User`). */
export interface UserRecord {
  /** The consumer's peer ID (the key of the entry). */
  PeerID: string;
  /** When it announced itself, as Go's `time.Time.String()` (see `goTimeString`). */
  Timestamp: string;
  /** p2p's signature by `PeerID`'s key (see `signEntry`); LocalAI peers write none. */
  Signature?: string;
}

/**
 * Pool bucket value: a worker (LocalAI `schema.NodeData`). Go field names; `LastSeen` is Go's
 * `time.Time` JSON (RFC 3339 with nanoseconds). `Multiaddrs` and `Target` are ours: Go peers
 * ignore unknown fields, and they let consumers dial a worker without a DHT lookup.
 */
export interface NodeData {
  /** The worker's name: the key of its entry and, by default, its service name. */
  Name: string;
  /** LocalAI's worker ID (`<hostname>-<name>`). */
  ID: string;
  /** LocalAI's local tunnel address; empty in entries p2p writes. */
  TunnelAddress: string;
  /** The worker's entry in the `services` bucket when it is not `Name`; empty otherwise. */
  ServiceID: string;
  /** When the worker last refreshed the entry: Go `time.Time` JSON, on the worker's clock. */
  LastSeen: string;
  /** The worker's addresses (ours), so consumers dial it without a DHT lookup. */
  Multiaddrs?: string[];
  /** The worker's peer ID (ours; LocalAI finds it through `services`). */
  PeerID?: string;
  /** p2p's signature by `PeerID`'s key (see `signEntry`); LocalAI peers write none. */
  Signature?: string;
}

/**
 * LocalAI's `NetworkID(networkID, pool)`: `<networkID>_<pool>`, or `pool` without an ID.
 *
 * @param pool The pool name, for example `worker` or `federated`.
 * @param networkId The LocalAI network ID, if any.
 * @returns The ledger bucket of the pool.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { FEDERATED_POOL } from "@p2p/p2p";
 * import { poolBucket } from "./records.ts";
 *
 * assert.equal(poolBucket(FEDERATED_POOL), "federated");
 * assert.equal(poolBucket(FEDERATED_POOL, "team"), "team_federated");
 * ```
 */
export function poolBucket(pool: string, networkId?: string): string {
  return networkId ? `${networkId}_${pool}` : pool;
}

/**
 * Formats `date` as Go's `time.Time` JSON in UTC: RFC 3339 with the fraction's trailing
 * zeros trimmed, `Z` offset.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { goRfc3339Nano } from "./records.ts";
 *
 * assert.equal(goRfc3339Nano(new Date("2026-08-22T10:00:00.120Z")), "2026-08-22T10:00:00.12Z");
 * assert.equal(goRfc3339Nano(new Date("2026-08-22T10:00:00Z")), "2026-08-22T10:00:00Z");
 * ```
 */
export function goRfc3339Nano(date: Date): string {
  return date.toISOString().replace(
    /\.(\d*?)0*Z$/,
    (_, digits: string) => digits === "" ? "Z" : `.${digits}Z`,
  );
}

/**
 * Parses a Go RFC 3339 time (any fraction length, `Z` or an offset) to milliseconds since the
 * epoch; `undefined` when it is not one.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseGoTime } from "./records.ts";
 *
 * assert.equal(parseGoTime("2026-08-22T12:00:00.123456789+02:00"), Date.UTC(2026, 7, 22, 10, 0, 0, 123));
 * assert.equal(parseGoTime("yesterday"), undefined);
 * ```
 */
export function parseGoTime(text: string): number | undefined {
  const match = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$/.exec(text);
  if (match === null) return undefined;
  const fraction = (match[2] ?? "").slice(0, 3).padEnd(3, "0");
  const ms = Date.parse(`${match[1]}.${fraction}${match[3]}`);
  return Number.isNaN(ms) ? undefined : ms;
}

function stringList(value: unknown): string[] | undefined {
  return Array.isArray(value) ? value.filter((a): a is string => typeof a === "string") : undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Reads a `services` entry; `undefined` when it has the wrong shape.
 *
 * @param value An entry of the `services` bucket, parsed from JSON.
 * @returns The record, or `undefined`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { asServiceRecord } from "./records.ts";
 *
 * const peer = "12D3KooWExamplePeer";
 * assert.deepEqual(asServiceRecord({ PeerID: peer, Name: "web" }), { PeerID: peer, Name: "web" });
 * assert.deepEqual(asServiceRecord({ PeerID: peer }), { PeerID: peer, Name: "" });
 * assert.equal(asServiceRecord({ Name: "web" }), undefined);
 * ```
 */
export function asServiceRecord(value: unknown): ServiceRecord | undefined {
  if (!isObject(value) || typeof value.PeerID !== "string" || value.PeerID === "") return undefined;
  const addrs = stringList(value.Multiaddrs);
  return {
    PeerID: value.PeerID,
    Name: typeof value.Name === "string" ? value.Name : "",
    ...(addrs === undefined ? {} : { Multiaddrs: addrs }),
  };
}

/**
 * Reads a pool entry; `undefined` when it has the wrong shape.
 *
 * @param value An entry of a pool bucket, parsed from JSON.
 * @returns The worker data, missing string fields empty, or `undefined`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { asNodeData } from "./records.ts";
 *
 * const data = asNodeData({ Name: "abc", ID: "box-abc", LastSeen: "2026-08-22T10:00:00Z" });
 * assert.deepEqual(data, {
 *   Name: "abc",
 *   ID: "box-abc",
 *   TunnelAddress: "",
 *   ServiceID: "",
 *   LastSeen: "2026-08-22T10:00:00Z",
 * });
 * assert.equal(asNodeData({ Name: "abc" }), undefined);
 * ```
 */
export function asNodeData(value: unknown): NodeData | undefined {
  if (!isObject(value) || typeof value.Name !== "string" || typeof value.LastSeen !== "string") {
    return undefined;
  }
  const str = (v: unknown): string => (typeof v === "string" ? v : "");
  const addrs = stringList(value.Multiaddrs);
  return {
    Name: value.Name,
    ID: str(value.ID),
    TunnelAddress: str(value.TunnelAddress),
    ServiceID: str(value.ServiceID),
    LastSeen: value.LastSeen,
    ...(addrs === undefined ? {} : { Multiaddrs: addrs }),
    ...(typeof value.PeerID === "string" ? { PeerID: value.PeerID } : {}),
  };
}

const LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/**
 * A stable 10-letter service name (LocalAI uses 10 random letters) derived from `seed`
 * bytes, so that a worker restarted on the same host with the same target keeps its name.
 *
 * @param seed The bytes to derive the letters from, used cyclically.
 * @param length How many letters.
 * @returns `length` letters from `[a-zA-Z]`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { lettersFrom } from "./records.ts";
 *
 * assert.equal(lettersFrom(Uint8Array.of(0, 1, 26, 51)), "abAZabAZab");
 * assert.equal(lettersFrom(Uint8Array.of(0, 1, 26, 51), 3), "abA");
 * ```
 */
export function lettersFrom(seed: Uint8Array, length = 10): string {
  let name = "";
  for (let i = 0; i < length; i++) name += LETTERS[(seed[i % seed.length] ?? 0) % LETTERS.length];
  return name;
}
