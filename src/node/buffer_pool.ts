/**
 * Equal-sized buffers lent and given back, where a fresh one per use would cost more than the
 * work done with it: a 64 KiB `Uint8Array` costs about 8 µs here (the allocation, its zeroing
 * and page faults, and the collections V8 runs for external memory). A node seals its full
 * noise messages into one pool's buffers (the TCP writer gives them back once written); the
 * TCP writer and the tunnels' bridges copy small pieces into batch buffers from others.
 *
 * Only a buffer this pool lent comes back (a `WeakSet` tells them apart), so one that travels
 * elsewhere (a sealed message on a relayed circuit, another transport) is simply never
 * returned and is collected as any other; the pool then lends a new one.
 *
 * @module
 */

/**
 * A pool of equal-sized buffers, lent and given back.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { BufferPool } from "./buffer_pool.ts";
 *
 * const pool = new BufferPool(1024, 4);
 * const lent = pool.take();
 * pool.giveBack(lent);
 * assert.equal(pool.take(), lent, "reused once given back");
 * pool.giveBack(new Uint8Array(1024)); // not lent: ignored
 * assert.notEqual(pool.take(), lent);
 * ```
 */
export class BufferPool {
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
