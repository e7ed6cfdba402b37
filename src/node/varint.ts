/**
 * Protobuf's unsigned varint (LEB128), the one encoder of the tree: the libp2p messages this
 * layer encodes by hand (DCUtR, the relay's status answers, gossip frame lengths) and the
 * messaging layer's frames.
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
  if (typeof value === "bigint") {
    if (value < 0n) throw new RangeError(`Cannot encode ${value} as a varint: negative`);
    let rest = value;
    while (rest >= 0x80n) {
      out.push(Number(rest & 0x7fn) | 0x80);
      rest >>= 7n;
    }
    out.push(Number(rest));
    return;
  }
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`Cannot encode ${value} as a varint: not a non-negative safe integer`);
  }
  // Numbers stay numbers (lengths, on every frame): no BigInt per call.
  let rest = value;
  while (rest >= 0x80) {
    out.push((rest % 0x80) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  out.push(rest);
}
