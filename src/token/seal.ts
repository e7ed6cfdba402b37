/**
 * Sealing of gossip messages as edgevpn's `AESSealer` does it: AES-256-GCM, hex encoded.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { UnsealError } from "./errors.ts";

const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

/**
 * Seals a message: AES-256-GCM with a random 12-byte nonce and no associated data. As in Go,
 * the AES key is the UTF-8 bytes of `key` copied into 32 bytes (zero-padded or truncated); edgevpn
 * passes the 32-character seal key from {@linkcode sealKeyAt}.
 *
 * @param key The seal key.
 * @param plaintext The message.
 * @returns Lowercase hex of nonce, ciphertext and 16-byte tag.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { seal, unseal } from "./seal.ts";
 *
 * const key = "657ea17ddf27021e7ee396a721eb6b32";
 * const sealed = seal(key, new TextEncoder().encode("hello"));
 * assert.equal(sealed.length, 2 * (12 + 5 + 16));
 * assert.equal(new TextDecoder().decode(unseal(key, sealed)), "hello");
 * ```
 */
export function seal(key: string, plaintext: Uint8Array): string {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv("aes-256-gcm", aesKey(key), nonce);
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([nonce, ciphertext, cipher.getAuthTag()]).toString("hex");
}

/**
 * Opens a message produced by {@linkcode seal} or by edgevpn.
 *
 * @param key The seal key.
 * @param sealedHex Hex of nonce, ciphertext and tag (either case).
 * @returns The message.
 * @throws {UnsealError} If `sealedHex` is not hex, is shorter than a nonce and a tag, or does not
 * authenticate with `key`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { seal, unseal } from "./seal.ts";
 * import { UnsealError } from "./errors.ts";
 *
 * const sealed = seal("657ea17ddf27021e7ee396a721eb6b32", new Uint8Array([1, 2, 3]));
 * assert.deepEqual(unseal("657ea17ddf27021e7ee396a721eb6b32", sealed), new Uint8Array([1, 2, 3]));
 * assert.throws(() => unseal("b104ee7f2c658abcd238f189d2f214a3", sealed), UnsealError);
 * ```
 */
export function unseal(key: string, sealedHex: string): Uint8Array {
  if (sealedHex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(sealedHex)) {
    throw new UnsealError("Cannot unseal message: not hex");
  }
  const sealed = Buffer.from(sealedHex, "hex");
  if (sealed.length < NONCE_BYTES + TAG_BYTES) {
    throw new UnsealError("Cannot unseal message: too short");
  }
  const nonce = sealed.subarray(0, NONCE_BYTES);
  const ciphertext = sealed.subarray(NONCE_BYTES, sealed.length - TAG_BYTES);
  const decipher = createDecipheriv("aes-256-gcm", aesKey(key), nonce);
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
  try {
    return new Uint8Array(Buffer.concat([decipher.update(ciphertext), decipher.final()]));
  } catch (error) {
    throw new UnsealError("Cannot unseal message: authentication failed", { cause: error });
  }
}

function aesKey(key: string): Uint8Array {
  const bytes = new Uint8Array(KEY_BYTES);
  bytes.set(new TextEncoder().encode(key).subarray(0, KEY_BYTES));
  return bytes;
}
