/**
 * Buffers for full noise messages, lent to the cipher and given back by the TCP writer once
 * the message is written. A bulk sender seals a 65,535-byte message per 64 KiB; a fresh
 * buffer for each costs about 8 µs here (the allocation, its zeroing and page faults, and the
 * collections V8 runs for external memory), some 7 % of the sender's CPU per MiB.
 *
 * Only a buffer this pool lent comes back (a `WeakSet` tells them apart), so a message that
 * travels elsewhere (a relayed circuit, another transport) is simply never returned and is
 * collected as any other; the pool then lends a new one.
 *
 * @module
 */

/**
 * A pool of equal-sized buffers, lent and given back.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { MessageBuffers } from "./message_buffers.ts";
 *
 * const pool = new MessageBuffers(1024, 4);
 * const lent = pool.take();
 * pool.giveBack(lent);
 * assert.equal(pool.take(), lent, "reused once given back");
 * pool.giveBack(new Uint8Array(1024)); // not lent: ignored
 * assert.notEqual(pool.take(), lent);
 * ```
 */
export class MessageBuffers {
  /** Bytes of every buffer. */
  readonly size: number;
  #keep: number;
  #free: Uint8Array[] = [];
  #lent = new WeakSet<Uint8Array>();

  /**
   * @param size Bytes of every buffer.
   * @param keep Free buffers kept for reuse; more given back are left to the collector.
   */
  constructor(size: number, keep: number) {
    this.size = size;
    this.#keep = keep;
  }

  /** Buffers waiting to be lent again. */
  get free(): number {
    return this.#free.length;
  }

  /** A buffer of {@linkcode size} bytes, lent until given back; its contents are stale. */
  take(): Uint8Array {
    const buffer = this.#free.pop() ?? new Uint8Array(this.size);
    this.#lent.add(buffer);
    return buffer;
  }

  /** Takes `buffer` back if this pool lent it and nobody else reads it anymore. */
  giveBack(buffer: Uint8Array): void {
    if (!this.#lent.delete(buffer)) return;
    if (this.#free.length < this.#keep) this.#free.push(buffer);
  }
}
