/**
 * Protobuf's unsigned varint (LEB128), for the few libp2p messages this layer encodes by hand
 * (DCUtR, the relay's status answers): a handful of fields do not need a protobuf runtime.
 *
 * @module
 */

/**
 * Appends the varint of `value` (a safe non-negative integer, or a bigint) to `out`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { appendVarint } from "./varint.ts";
 *
 * const out: number[] = [];
 * appendVarint(300, out);
 * appendVarint(2n ** 31n - 1n, out);
 * assert.deepEqual(out, [0xac, 0x02, 0xff, 0xff, 0xff, 0xff, 0x07]);
 * ```
 */
export function appendVarint(value: number | bigint, out: number[]): void {
  let rest = BigInt(value);
  if (rest < 0n) throw new RangeError(`Cannot encode ${value} as a varint: negative`);
  while (rest >= 0x80n) {
    out.push(Number(rest & 0x7fn) | 0x80);
    rest >>= 7n;
  }
  out.push(Number(rest));
}
