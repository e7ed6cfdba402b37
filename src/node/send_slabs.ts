/**
 * Read buffers of a tunnel's TCP side, reused once the cipher has sealed every byte read into
 * them. A bulk sender reads its client into 128 KiB slabs; a fresh one per 128 KiB costs about
 * 0.17 ms per MiB here (the allocation, its zeroing, the page faults on first touch and the
 * collections V8 runs for external memory), a tenth of the sender's CPU per MiB.
 *
 * A slab's views go down through the yamux stream and the muxer to the noise layer, which seals
 * them out of place: once sealed, no one reads them again. The reader counts the bytes it hands
 * out of a slab; the cipher reports every plaintext piece it sealed; a slab whose reader has
 * moved on and whose every byte was sealed is lent again. Bytes that never reach the cipher (a
 * stream reset with data queued, a layer that copies before sealing) keep their slab from
 * coming back, and the collector takes it as before: the fallback is the old cost, never a
 * slab reused while a view of it is still waiting.
 *
 * @module
 */

/** What the pool knows of one lent slab. */
interface SlabState {
  /** The slab itself, to be lent again. */
  slab: Uint8Array;
  /** Bytes handed out and not yet sealed. */
  outstanding: number;
  /** The reader has moved on: no more bytes will be handed out of it. */
  retired: boolean;
}

/**
 * A pool of equal-sized slabs, lent to readers and given back as the cipher seals their bytes.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { SendSlabs } from "./send_slabs.ts";
 *
 * const slabs = new SendSlabs(1024, 4);
 * const slab = slabs.take();
 * const view = slab.subarray(0, 100);
 * slabs.handedOut(view);
 * slabs.retire(slab);
 * assert.notEqual(slabs.take(), slab, "100 bytes not sealed yet");
 * slabs.sealed(view.subarray(0, 60));
 * slabs.sealed(view.subarray(60));
 * assert.equal(slabs.take(), slab, "every byte sealed: lent again");
 * ```
 */
export class SendSlabs {
  /** Bytes of every slab. */
  readonly size: number;
  #keep: number;
  #free: Uint8Array[] = [];
  #reused = 0;
  #lent = new WeakMap<ArrayBufferLike, SlabState>();

  /**
   * @param size Bytes of every slab.
   * @param keep Free slabs kept for reuse (0: none, every slab is new).
   */
  constructor(size: number, keep: number) {
    this.size = size;
    this.#keep = keep;
  }

  /** Slabs waiting to be lent again. */
  get free(): number {
    return this.#free.length;
  }

  /** Slabs lent again so far (each saved a new one). */
  get reused(): number {
    return this.#reused;
  }

  /** A slab of {@linkcode size} bytes; its contents are stale. */
  take(): Uint8Array {
    const again = this.#free.pop();
    if (again !== undefined) this.#reused++;
    const slab = again ?? new Uint8Array(this.size);
    if (this.#keep > 0) this.#lent.set(slab.buffer, { slab, outstanding: 0, retired: false });
    return slab;
  }

  /** The reader hands `view` (of a slab this pool lent) on to be sealed. */
  handedOut(view: Uint8Array): void {
    const state = this.#lent.get(view.buffer);
    if (state !== undefined) state.outstanding += view.byteLength;
  }

  /** The reader will hand out no more of `slab`. */
  retire(slab: Uint8Array): void {
    const state = this.#lent.get(slab.buffer);
    if (state === undefined) return;
    state.retired = true;
    this.#release(slab.buffer, state);
  }

  /** The cipher has read `piece` for the last time (it sealed it out of place). */
  sealed(piece: Uint8Array): void {
    const state = this.#lent.get(piece.buffer);
    if (state === undefined) return;
    state.outstanding -= piece.byteLength;
    if (state.outstanding < 0) {
      // More sealed than handed out: someone else reads this slab. Never lend it again.
      this.#lent.delete(piece.buffer);
      return;
    }
    this.#release(piece.buffer, state);
  }

  #release(buffer: ArrayBufferLike, state: SlabState): void {
    if (!state.retired || state.outstanding !== 0) return;
    this.#lent.delete(buffer);
    if (this.#free.length < this.#keep) this.#free.push(state.slab);
  }
}
