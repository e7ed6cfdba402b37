/**
 * Stand-in for `@chainsafe/as-sha256`, linked in `deno.json` (`links`): the one function
 * `@libp2p/noise` imports, on `node:crypto`. The original instantiates two WebAssembly modules
 * when it loads; see `../as-chacha20poly1305/index.js` for why p2p does without them.
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
