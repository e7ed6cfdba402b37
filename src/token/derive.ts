/**
 * Values derived from a network token at a given time, as edgevpn v0.34 computes them: the DHT
 * rendezvous, the gossip topics and the seal key.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { createHash, createHmac } from "node:crypto";
import { CID } from "multiformats/cid";
import * as Digest from "multiformats/hashes/digest";
import { encodeToken, type NetworkToken } from "./token.ts";

const RAW_CODEC = 0x55;
const SHA2_256_CODE = 0x12;
const MAX_TOTP_LENGTH = 44;

/** A rotation window in Unix seconds, from `start` (included) to `end` (excluded). */
export interface TimeWindow {
  /** First second of the window. */
  start: number;
  /** First second after the window. */
  end: number;
}

/**
 * Computes edgevpn's TOTP: HMAC-SHA256 keyed with the UTF-8 bytes of `key` over the big-endian
 * 64-bit window counter `floor(atS / intervalS)`, encoded as standard base64 and cut to `length`.
 *
 * @param key The TOTP key.
 * @param intervalS The window length in seconds.
 * @param length How many base64 characters to keep (1 to 44).
 * @param atS The time in Unix seconds (may be fractional).
 * @returns The TOTP.
 * @throws {RangeError} If `intervalS` is not a positive integer, `length` is out of range or `atS`
 * is not finite.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { totp } from "./derive.ts";
 *
 * const key = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ";
 * assert.equal(totp(key, 30, 43, 1700000000), "yaEkKNz1oTl4qZPF/AP2z4015Bo1jsPDPRtiba0J8tg");
 * ```
 */
export function totp(key: string, intervalS: number, length: number, atS: number): string {
  if (!Number.isSafeInteger(intervalS) || intervalS <= 0) {
    throw new RangeError("Cannot compute TOTP: interval must be a positive integer");
  }
  if (!Number.isInteger(length) || length < 1 || length > MAX_TOTP_LENGTH) {
    throw new RangeError(`Cannot compute TOTP: length must be between 1 and ${MAX_TOTP_LENGTH}`);
  }
  if (!Number.isFinite(atS)) throw new RangeError("Cannot compute TOTP: time must be finite");
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt.asUintN(64, BigInt(Math.floor(atS / intervalS))));
  return createHmac("sha256", key).update(counter).digest("base64").slice(0, length);
}

/**
 * Computes the lowercase hex MD5 of the UTF-8 bytes of `text`, as edgevpn's `crypto.MD5`.
 *
 * @param text The text to hash.
 * @returns 32 lowercase hex characters.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { md5Hex } from "./derive.ts";
 *
 * assert.equal(md5Hex(""), "d41d8cd98f00b204e9800998ecf8427e");
 * ```
 */
export function md5Hex(text: string): string {
  return createHash("md5").update(text, "utf8").digest("hex");
}

/**
 * Returns the rotation window of length `intervalS` that contains `atS`, aligned to the Unix
 * epoch.
 *
 * @param intervalS The window length in seconds.
 * @param atS The time in Unix seconds (may be fractional).
 * @returns The window `[start, end)`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { windowAt } from "./derive.ts";
 *
 * assert.deepEqual(windowAt(30, 1700000000.5), { start: 1699999980, end: 1700000010 });
 * ```
 */
export function windowAt(intervalS: number, atS: number): TimeWindow {
  const start = Math.floor(atS / intervalS) * intervalS;
  return { start, end: start + intervalS };
}

/**
 * Computes the DHT rendezvous namespace at `atS`: the MD5 hex of the TOTP of `otp.dht`, or the
 * static `rendezvous` field verbatim when `otp.dht.key` is empty (edgevpn `Rendezvous()`).
 *
 * @param token The network token.
 * @param atS The time in Unix seconds.
 * @returns The rendezvous namespace.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { generateTokenConfig } from "./token.ts";
 * import { rendezvousAt } from "./derive.ts";
 *
 * const token = generateTokenConfig();
 * token.otp.dht.key = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ";
 * assert.equal(rendezvousAt(token, 1700000000), "6055c688be7676df5d1c41b7f3ca4610");
 * ```
 */
export function rendezvousAt(token: NetworkToken, atS: number): string {
  const { key, interval, length } = token.otp.dht;
  return key === "" ? token.rendezvous : md5Hex(totp(key, interval, length, atS));
}

/**
 * Computes the content ID under which go-libp2p advertises a rendezvous namespace in the DHT:
 * CIDv1, raw codec, SHA2-256 of the namespace's UTF-8 bytes, in base32.
 *
 * @param namespace The rendezvous namespace.
 * @returns The CID string (`bafkrei…`).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { rendezvousCid } from "./derive.ts";
 *
 * assert.equal(
 *   rendezvousCid("6055c688be7676df5d1c41b7f3ca4610"),
 *   "bafkreidatokketbrczzqwaovlrvtw5tt3xdlm3ewy723kkghorfugeggvy",
 * );
 * ```
 */
export function rendezvousCid(namespace: string): string {
  const hash = new Uint8Array(createHash("sha256").update(namespace, "utf8").digest());
  return CID.createV1(RAW_CODEC, Digest.create(SHA2_256_CODE, hash)).toString();
}

/**
 * Computes the gossipsub topic of the ledger at `atS`: the MD5 hex of the TOTP of `room` with the
 * `otp.crypto` interval and length (edgevpn hub `topicKey()`).
 *
 * @param token The network token.
 * @param atS The time in Unix seconds.
 * @returns The topic name.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { generateTokenConfig } from "./token.ts";
 * import { topicAt } from "./derive.ts";
 *
 * const token = generateTokenConfig();
 * token.room = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ";
 * assert.equal(topicAt(token, 1700000000), "657ea17ddf27021e7ee396a721eb6b32");
 * ```
 */
export function topicAt(token: NetworkToken, atS: number): string {
  return md5Hex(roomTotp(token, atS));
}

/**
 * Computes the public gossipsub topic at `atS`: the MD5 hex of the room TOTP followed by
 * `public` (edgevpn hub `topicKey("public")`).
 *
 * @param token The network token.
 * @param atS The time in Unix seconds.
 * @returns The topic name.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { generateTokenConfig } from "./token.ts";
 * import { publicTopicAt } from "./derive.ts";
 *
 * const token = generateTokenConfig();
 * token.room = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ";
 * assert.equal(publicTopicAt(token, 1700000000), "b104ee7f2c658abcd238f189d2f214a3");
 * ```
 */
export function publicTopicAt(token: NetworkToken, atS: number): string {
  return md5Hex(`${roomTotp(token, atS)}public`);
}

/**
 * Computes the key that seals gossip messages at `atS`: the MD5 hex of the TOTP of
 * `otp.crypto` (edgevpn `sealkey()`). Pass it to {@linkcode seal} and {@linkcode unseal}.
 *
 * @param token The network token.
 * @param atS The time in Unix seconds.
 * @returns 32 lowercase hex characters. This is a secret: log its {@linkcode fingerprint} only.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { generateTokenConfig } from "./token.ts";
 * import { sealKeyAt } from "./derive.ts";
 *
 * const token = generateTokenConfig();
 * token.otp.crypto.key = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ";
 * assert.equal(sealKeyAt(token, 1700000000), "657ea17ddf27021e7ee396a721eb6b32");
 * ```
 */
export function sealKeyAt(token: NetworkToken, atS: number): string {
  const { key, interval, length } = token.otp.crypto;
  return md5Hex(totp(key, interval, length, atS));
}

/**
 * Returns a short, non-reversible tag of a secret that is safe to log: the first 8 hex
 * characters of its SHA-256.
 *
 * @param secret The secret.
 * @returns 8 lowercase hex characters.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { fingerprint } from "./derive.ts";
 *
 * assert.equal(fingerprint("abc"), "ba7816bf");
 * ```
 */
export function fingerprint(secret: string): string {
  return createHash("sha256").update(secret, "utf8").digest("hex").slice(0, 8);
}

/**
 * A secret only members can compute, for purposes edgevpn does not have (membership
 * proofs, the private-network prologue, our own topics): HMAC-SHA256 keyed with the
 * token's two gossip secrets over a purpose label. Never sent; distinct per purpose.
 *
 * @param token The network token.
 * @param purpose What the secret is for, for example `"membership"`.
 * @returns 32 bytes. This is a secret: never log it.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { generateTokenConfig } from "./token.ts";
 * import { memberSecret } from "./derive.ts";
 *
 * const token = generateTokenConfig();
 * assert.equal(memberSecret(token, "membership").byteLength, 32);
 * assert.notDeepEqual(memberSecret(token, "membership"), memberSecret(token, "noise"));
 * assert.notDeepEqual(
 *   memberSecret(token, "membership"),
 *   memberSecret(generateTokenConfig(), "membership"),
 * );
 * ```
 */
export function memberSecret(token: NetworkToken, purpose: string): Uint8Array {
  return new Uint8Array(memberHmac(token, "p2p/member-secret/1", purpose));
}

/**
 * The gossipsub topic an application topic travels on: `p2p-topic-` and the hex HMAC of the
 * name keyed with the token's secrets. Outsiders cannot compute it, so they can neither find
 * nor subscribe to the topic on purpose.
 *
 * @param token The network token.
 * @param topic The application's topic name.
 * @returns The gossip topic.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { generateTokenConfig } from "./token.ts";
 * import { topicName } from "./derive.ts";
 *
 * const token = generateTokenConfig();
 * assert.match(topicName(token, "news"), /^p2p-topic-[0-9a-f]{64}$/);
 * assert.notEqual(topicName(token, "news"), topicName(generateTokenConfig(), "news"));
 * ```
 */
export function topicName(token: NetworkToken, topic: string): string {
  return `p2p-topic-${memberHmac(token, "p2p/topic-name/1", topic).toString("hex")}`;
}

/**
 * The key that seals an application topic's messages (for {@linkcode seal}): 32 base64url
 * characters (192 bits) of an HMAC keyed with the token's secrets, distinct per topic.
 *
 * @param token The network token.
 * @param topic The application's topic name.
 * @returns The seal key. This is a secret: never log it.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { generateTokenConfig } from "./token.ts";
 * import { seal, unseal } from "./seal.ts";
 * import { topicSealKey } from "./derive.ts";
 *
 * const key = topicSealKey(generateTokenConfig(), "news");
 * const sealed = seal(key, new Uint8Array([1, 2]));
 * assert.deepEqual(unseal(key, sealed), new Uint8Array([1, 2]));
 * ```
 */
export function topicSealKey(token: NetworkToken, topic: string): string {
  return memberHmac(token, "p2p/topic-key/1", topic).toString("base64url").slice(0, 32);
}

/** HMAC-SHA256 keyed with the token's two gossip secrets: only members can compute it. */
function memberHmac(token: NetworkToken, label: string, data: string): Buffer {
  return createHmac("sha256", `${token.room}\n${token.otp.crypto.key}`)
    .update(`${label}\n${data}`, "utf8")
    .digest();
}

/** What {@linkcode inspectToken} reports about a token at a given time. No raw key is included. */
export interface TokenInspection {
  /** Current DHT rendezvous namespace. */
  rendezvous: string;
  /** CID advertised for {@linkcode TokenInspection.rendezvous}. */
  rendezvousCid: string;
  /** DHT rendezvous namespace of the previous DHT window. */
  previousRendezvous: string;
  /** CID advertised for {@linkcode TokenInspection.previousRendezvous}. */
  previousRendezvousCid: string;
  /** Current gossipsub ledger topic. */
  topic: string;
  /** Current public gossipsub topic. */
  publicTopic: string;
  /** mDNS service tag. */
  mdns: string;
  /** `otp.dht.interval`, in seconds. */
  dhtInterval: number;
  /** `otp.crypto.interval`, in seconds. */
  otpInterval: number;
  /** `otp.dht.length`. */
  keyLength: number;
  /** `max_message_size`, in bytes. */
  maxMessageSize: number;
  /** Current DHT window. */
  dhtWindow: TimeWindow;
  /** Current topic and seal key window. */
  cryptoWindow: TimeWindow;
  /** {@linkcode fingerprint} of the current seal key. */
  sealKeyFingerprint: string;
  /** {@linkcode fingerprint} of the encoded token. */
  tokenFingerprint: string;
  /** The time inspected, in Unix seconds. */
  at: number;
}

/**
 * Describes what a token derives to at `atS`, for diagnostics. Secrets only appear as
 * fingerprints.
 *
 * @param token The network token.
 * @param atS The time in Unix seconds.
 * @param encoded The encoded token to fingerprint; defaults to {@linkcode encodeToken} of `token`.
 * @returns The inspection.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { generateTokenConfig } from "./token.ts";
 * import { inspectToken } from "@p2p/p2p";
 * import { rendezvousAt } from "./derive.ts";
 *
 * const token = generateTokenConfig();
 * const inspection = inspectToken(token, 1700000000);
 * assert.equal(inspection.rendezvous, rendezvousAt(token, 1700000000));
 * assert.equal(inspection.previousRendezvous, rendezvousAt(token, 1700000000 - 30));
 * assert.deepEqual(inspection.dhtWindow, { start: 1699999980, end: 1700000010 });
 * ```
 */
export function inspectToken(token: NetworkToken, atS: number, encoded?: string): TokenInspection {
  const { dht, crypto } = token.otp;
  const rendezvous = rendezvousAt(token, atS);
  const previousRendezvous = rendezvousAt(token, atS - dht.interval);
  return {
    rendezvous,
    rendezvousCid: rendezvousCid(rendezvous),
    previousRendezvous,
    previousRendezvousCid: rendezvousCid(previousRendezvous),
    topic: topicAt(token, atS),
    publicTopic: publicTopicAt(token, atS),
    mdns: token.mdns,
    dhtInterval: dht.interval,
    otpInterval: crypto.interval,
    keyLength: dht.length,
    maxMessageSize: token.maxMessageSize,
    dhtWindow: windowAt(dht.interval, atS),
    cryptoWindow: windowAt(crypto.interval, atS),
    sealKeyFingerprint: fingerprint(sealKeyAt(token, atS)),
    tokenFingerprint: fingerprint(encoded ?? encodeToken(token)),
    at: atS,
  };
}

function roomTotp(token: NetworkToken, atS: number): string {
  const { interval, length } = token.otp.crypto;
  return totp(token.room, interval, length, atS);
}
