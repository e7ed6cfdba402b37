/**
 * The DCUtR message (libp2p `holepunch.proto`: `message HolePunch { required Type type = 1;
 * repeated bytes ObsAddrs = 2; }`, `enum Type { CONNECT = 100; SYNC = 300; }`), encoded by hand:
 * two fields do not need a protobuf runtime.
 *
 * @module
 */
import { appendVarint } from "./varint.ts";

/** The two DCUtR message types. */
export const HolePunchType = { CONNECT: 100, SYNC: 300 } as const;

/** A decoded DCUtR message. */
export interface HolePunchMessage {
  type: number;
  /** Multiaddrs, as bytes. */
  addrs: Uint8Array[];
}

/**
 * Encodes a DCUtR message.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeHolePunch, encodeHolePunch, HolePunchType } from "./hole_punch_message.ts";
 *
 * const bytes = encodeHolePunch(HolePunchType.SYNC, []);
 * assert.deepEqual([...bytes], [0x08, 0xac, 0x02]);
 * const back = decodeHolePunch(encodeHolePunch(HolePunchType.CONNECT, [Uint8Array.of(4, 11)]));
 * assert.deepEqual(back, { type: 100, addrs: [Uint8Array.of(4, 11)] });
 * ```
 */
export function encodeHolePunch(type: number, addrs: Uint8Array[]): Uint8Array {
  const out: number[] = [0x08];
  appendVarint(type, out);
  for (const addr of addrs) {
    out.push(0x12);
    appendVarint(addr.byteLength, out);
    out.push(...addr);
  }
  return Uint8Array.from(out);
}

/**
 * Decodes a DCUtR message; unknown fields are skipped.
 *
 * @throws {Error} Truncated or malformed bytes.
 */
export function decodeHolePunch(bytes: Uint8Array): HolePunchMessage {
  let at = 0;
  const read = (): number => {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      const byte = bytes[at++];
      if (byte === undefined) throw new Error("truncated DCUtR message");
      value += (byte & 0x7f) * scale;
      if ((byte & 0x80) === 0) return value;
      scale *= 128;
    }
    throw new Error("malformed varint in a DCUtR message");
  };
  const message: HolePunchMessage = { type: 0, addrs: [] };
  while (at < bytes.byteLength) {
    const key = read();
    const field = Math.floor(key / 8);
    const wire = key % 8;
    if (wire === 0) {
      const value = read();
      if (field === 1) message.type = value;
    } else if (wire === 2) {
      const length = read();
      if (at + length > bytes.byteLength) throw new Error("truncated DCUtR message");
      if (field === 2) message.addrs.push(bytes.slice(at, at + length));
      at += length;
    } else {
      throw new Error(`unexpected wire type ${wire} in a DCUtR message`);
    }
  }
  return message;
}
