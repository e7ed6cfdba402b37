/**
 * The relay's answer to a circuit request (circuit relay v2 `HopMessage` of type STATUS:
 * `type = 1`, `limit = 4` with `duration = 1` in seconds and `data = 2` in bytes, `status = 5`),
 * encoded by hand and length-prefixed as the hop protocol sends it.
 *
 * @module
 */
import { appendVarint } from "./varint.ts";

/** Status codes of circuit relay v2 (the spec's `Status` enum). */
export const RelayStatus = {
  OK: 100,
  RESERVATION_REFUSED: 200,
  RESOURCE_LIMIT_EXCEEDED: 201,
  PERMISSION_DENIED: 202,
  CONNECTION_FAILED: 203,
  NO_RESERVATION: 204,
  MALFORMED_MESSAGE: 400,
  UNEXPECTED_MESSAGE: 401,
} as const;

/** The limits of a circuit as they go on the wire. */
export interface WireLimit {
  /** Seconds the circuit may last. */
  duration?: number;
  /** Bytes the circuit may carry. */
  data?: bigint;
}

const HOP_TYPE_STATUS = 2;

/**
 * A length-prefixed `HopMessage{type: STATUS, status, limit}`.
 *
 * @param status One of {@linkcode RelayStatus}.
 * @param limit The circuit's limits, for an OK.
 * @returns The bytes to send on the hop stream.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeHopStatus, RelayStatus } from "./relay_message.ts";
 *
 * assert.deepEqual([...encodeHopStatus(RelayStatus.NO_RESERVATION)], [5, 0x08, 2, 0x28, 0xcc, 0x01]);
 * const ok = encodeHopStatus(RelayStatus.OK, { duration: 1800, data: 2n ** 31n - 1n });
 * assert.deepEqual(
 *   [...ok],
 *   [15, 0x08, 2, 0x22, 9, 0x08, 0x88, 0x0e, 0x10, 0xff, 0xff, 0xff, 0xff, 0x07, 0x28, 100],
 * );
 * ```
 */
export function encodeHopStatus(status: number, limit?: WireLimit): Uint8Array {
  const message: number[] = [0x08, HOP_TYPE_STATUS];
  if (limit !== undefined && (limit.duration !== undefined || limit.data !== undefined)) {
    const fields: number[] = [];
    if (limit.duration !== undefined) {
      fields.push(0x08);
      appendVarint(limit.duration, fields);
    }
    if (limit.data !== undefined) {
      fields.push(0x10);
      appendVarint(limit.data, fields);
    }
    message.push(0x22);
    appendVarint(fields.length, message);
    message.push(...fields);
  }
  message.push(0x28);
  appendVarint(status, message);
  const framed: number[] = [];
  appendVarint(message.length, framed);
  framed.push(...message);
  return Uint8Array.from(framed);
}
