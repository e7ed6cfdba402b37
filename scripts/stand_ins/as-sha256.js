/**
 * What the release bundle imports instead of `@chainsafe/as-sha256`: the one function
 * `@libp2p/noise` imports, on `node:crypto`. The original compiles two WebAssembly modules when
 * it loads; see `as-chacha20poly1305.js` beside this file for why the bundle does without them.
 *
 * @module
 */
import { createHash } from "node:crypto";

/**
 * @param {Uint8Array} data
 * @returns {Uint8Array} The SHA-256 digest of `data` (32 bytes).
 */
export function digest(data) {
  return new Uint8Array(createHash("sha256").update(data).digest());
}
