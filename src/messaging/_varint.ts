// Unsigned LEB128 varints for lengths (up to 2^31 − 1), as multiformats encodes them.
import { appendVarint } from "../node/varint.ts";

const MAX_BYTES = 5;

/** Appends the varint of `value` to `out`. */
export function writeVarint(value: number, out: number[]): void {
  if (!Number.isInteger(value) || value < 0 || value > 0x7fffffff) {
    throw new RangeError(`Cannot encode length ${value}: not an integer from 0 to 2^31 - 1`);
  }
  appendVarint(value, out);
}

/** Reads a varint at `offset`; `undefined` when truncated or longer than 5 bytes. */
export function readVarint(
  bytes: Uint8Array,
  offset: number,
): { value: number; next: number } | undefined {
  let value = 0;
  for (let i = 0; i < MAX_BYTES; i++) {
    const byte = bytes[offset + i];
    if (byte === undefined) return undefined;
    value += (byte & 0x7f) * 2 ** (7 * i);
    if ((byte & 0x80) === 0) {
      return value > 0x7fffffff ? undefined : { value, next: offset + i + 1 };
    }
  }
  return undefined;
}
