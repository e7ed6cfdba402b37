/**
 * Ledger entries signed by the peer they name. edgevpn lets any member overwrite any key;
 * entries p2p writes about itself (`services`, `users`, pool NodeData) carry a `Signature`
 * field by the key of their `PeerID`, so readers can tell the peer's own entry from one
 * written about it by someone else. Go peers ignore the extra field.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { createPublicKey, verify as verifySignature } from "node:crypto";
import type { PrivateKey } from "@libp2p/interface";
import { peerIdFromString } from "@libp2p/peer-id";

/** The JSON field that carries the signature (base64 Ed25519). */
export const SIGNATURE_FIELD = "Signature";

/** A ledger value that names its peer. */
export interface PeerEntry {
  /** The peer the entry is about, and whose key signs it. */
  PeerID: string;
}

/** A value as {@linkcode signEntry} returns it: the value plus its signature. */
export type Signed<T extends PeerEntry> = T & { Signature: string };

/**
 * Signs `value` as the entry `bucket`/`key`. The signature covers the bucket, the key and
 * every other field, so it cannot be moved to another key or kept over changed content.
 *
 * @param privateKey The key of the peer `value.PeerID` names (this node's key).
 * @param bucket The bucket the entry is written to.
 * @param key The key of the entry.
 * @param value The entry; its `PeerID` must be the key's peer.
 * @returns The entry with its `Signature`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { generateKeyPair } from "@libp2p/crypto/keys";
 * import { peerIdFromPrivateKey } from "@libp2p/peer-id";
 * import { entrySigner } from "./signed_entry.ts";
 * import { signEntry } from "./signed_entry.ts";
 *
 * const key = await generateKeyPair("Ed25519");
 * const PeerID = peerIdFromPrivateKey(key).toString();
 * const entry = await signEntry(key, "services", "web", { PeerID, Name: "web" });
 * assert.equal(entrySigner("services", "web", entry), PeerID);
 * assert.equal(entrySigner("services", "other", entry), undefined);
 * assert.equal(entrySigner("services", "web", { ...entry, Name: "evil" }), undefined);
 * ```
 */
export async function signEntry<T extends PeerEntry>(
  privateKey: PrivateKey,
  bucket: string,
  key: string,
  value: T,
): Promise<Signed<T>> {
  const { [SIGNATURE_FIELD]: _old, ...content } = value as T & { Signature?: unknown };
  const signature = await privateKey.sign(signedBytes(bucket, key, content));
  return { ...value, [SIGNATURE_FIELD]: base64(signature) } as Signed<T>;
}

/**
 * The peer that signed the entry `bucket`/`key`: its `PeerID`, when `Signature` is a valid
 * signature of the entry by that peer's Ed25519 key; `undefined` otherwise (unsigned, forged,
 * moved, changed, or not an object).
 *
 * @param bucket The bucket the entry was read from.
 * @param key Its key.
 * @param value The parsed entry.
 * @returns The signer's peer ID, or `undefined`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { entrySigner } from "./signed_entry.ts";
 *
 * // What a LocalAI node writes: no signature, so no signer.
 * assert.equal(entrySigner("services", "web", { PeerID: "12D3KooW…", Name: "web" }), undefined);
 * ```
 */
export function entrySigner(bucket: string, key: string, value: unknown): string | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  const { [SIGNATURE_FIELD]: signature, ...content } = value as Record<string, unknown>;
  const peer = content.PeerID;
  if (typeof signature !== "string" || typeof peer !== "string") return undefined;
  const publicKey = ed25519KeyOf(peer);
  if (publicKey === undefined) return undefined;
  try {
    const ok = verifySignature(
      null,
      signedBytes(bucket, key, content),
      publicKey,
      Buffer.from(signature, "base64"),
    );
    return ok ? peer : undefined;
  } catch {
    return undefined;
  }
}

function signedBytes(bucket: string, key: string, content: unknown): Uint8Array {
  return new TextEncoder().encode(`p2p/signed-entry/1\n${bucket}\n${key}\n${canonical(content)}`);
}

/** JSON with object keys sorted at every depth: the same text for the same content. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (typeof value === "object" && value !== null) {
    const record = value as Record<string, unknown>;
    const fields = Object.keys(record).filter((k) => record[k] !== undefined).sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(record[k])}`);
    return `{${fields.join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

function ed25519KeyOf(peer: string): ReturnType<typeof createPublicKey> | undefined {
  try {
    const publicKey = peerIdFromString(peer).publicKey;
    if (publicKey?.type !== "Ed25519") return undefined;
    return createPublicKey({
      key: { kty: "OKP", crv: "Ed25519", x: Buffer.from(publicKey.raw).toString("base64url") },
      format: "jwk",
    });
  } catch {
    return undefined;
  }
}

function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("base64");
}
