/** `services` bucket value: who serves a named service (edgevpn `types.Service`). */
export interface ServiceRecord {
  PeerID: string;
  Name: string;
}

/** `users` bucket value: a consumer allowed to open service streams (edgevpn `types.User`). */
export interface UserRecord {
  PeerID: string;
  Timestamp: string;
}

/**
 * Pool bucket value: a worker (LocalAI `schema.NodeData`). Go field names; `LastSeen` is Go's
 * `time.Time` JSON (RFC 3339 with nanoseconds). `Multiaddrs` and `Target` are ours: Go peers
 * ignore unknown fields, and they let consumers dial a worker without a DHT lookup.
 */
export interface NodeData {
  Name: string;
  ID: string;
  TunnelAddress: string;
  ServiceID: string;
  LastSeen: string;
  Multiaddrs?: string[];
}

/** LocalAI's `NetworkID(networkID, pool)`: `<networkID>_<pool>`, or `pool` without an ID. */
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

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Reads a `services` entry; `undefined` when it has the wrong shape. */
export function asServiceRecord(value: unknown): ServiceRecord | undefined {
  if (!isObject(value) || typeof value.PeerID !== "string" || value.PeerID === "") return undefined;
  return { PeerID: value.PeerID, Name: typeof value.Name === "string" ? value.Name : "" };
}

/** Reads a pool entry; `undefined` when it has the wrong shape. */
export function asNodeData(value: unknown): NodeData | undefined {
  if (!isObject(value) || typeof value.Name !== "string" || typeof value.LastSeen !== "string") {
    return undefined;
  }
  const str = (v: unknown): string => (typeof v === "string" ? v : "");
  const addrs = Array.isArray(value.Multiaddrs)
    ? value.Multiaddrs.filter((a): a is string => typeof a === "string")
    : undefined;
  return {
    Name: value.Name,
    ID: str(value.ID),
    TunnelAddress: str(value.TunnelAddress),
    ServiceID: str(value.ServiceID),
    LastSeen: value.LastSeen,
    ...(addrs === undefined ? {} : { Multiaddrs: addrs }),
  };
}

const LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/**
 * A stable 10-letter service name (LocalAI uses 10 random letters) derived from `seed`
 * bytes, so that a worker restarted on the same host with the same target keeps its name.
 */
export function lettersFrom(seed: Uint8Array, length = 10): string {
  let name = "";
  for (let i = 0; i < length; i++) name += LETTERS[(seed[i % seed.length] ?? 0) % LETTERS.length];
  return name;
}
