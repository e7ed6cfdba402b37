import type { SendSlabs } from "../node/send_slabs.ts";
import {
  SLAB_READER_INITIAL_BYTES,
  SLAB_READER_MAX_BYTES,
  SLAB_READER_MAX_READ_BYTES,
  SLAB_READER_MIN_READ_BYTES,
} from "./constants.ts";

/**
 * Reads a connection into the free tail of a slab and hands out views of it: a 64-byte
 * request no longer costs a fresh (zeroed, cache-cold) 64 KiB buffer, and bulk reads still
 * get large buffers. Views are never overwritten while a consumer may still read them (a new
 * slab is started instead), so the consumer may keep them, as `stream.send()` does until the
 * muxer has written them.
 *
 * The slab grows while reads fill what they were offered (bulk) and shrinks back when they
 * do not, so an idle or chatty connection pins little memory. Full-size slabs come from the
 * node's {@linkcode SendSlabs} when given: every view is then handed out to be sealed, and a
 * slab comes back once all of it was.
 */
export class SlabReader {
  #conn: Deno.Conn;
  #slabs: SendSlabs | undefined;
  #size: number;
  #slab: Uint8Array;
  #offset = 0;

  /**
   * @param conn The connection to read.
   * @param slabs Where full-size slabs come from; only for a reader whose every view goes to
   * the cipher once (not one whose views are kept to be sent again).
   */
  constructor(conn: Deno.Conn, slabs?: SendSlabs) {
    this.#conn = conn;
    this.#slabs = slabs;
    this.#size = SLAB_READER_INITIAL_BYTES;
    this.#slab = new Uint8Array(this.#size);
  }

  /** The next chunk (a view, at most the slab's free tail); `null` at EOF. */
  read = async (): Promise<Uint8Array | null> => {
    if (this.#slab.byteLength - this.#offset < SLAB_READER_MIN_READ_BYTES) this.#renew();
    const offered = Math.min(this.#slab.byteLength - this.#offset, SLAB_READER_MAX_READ_BYTES);
    const start = this.#offset;
    const n = await this.#conn.read(this.#slab.subarray(start, start + offered));
    if (n === null) {
      this.#slabs?.retire(this.#slab);
      return null;
    }
    this.#offset = start + n;
    if (n === offered) this.#size = Math.min(this.#size * 2, SLAB_READER_MAX_BYTES);
    else if (n < offered / 4) this.#size = Math.max(SLAB_READER_INITIAL_BYTES, this.#size / 2);
    const view = this.#slab.subarray(start, start + n);
    this.#slabs?.handedOut(view);
    return view;
  };

  #renew(): void {
    const slabs = this.#slabs;
    if (slabs !== undefined) slabs.retire(this.#slab);
    this.#slab = slabs !== undefined && this.#size === slabs.size
      ? slabs.take()
      : new Uint8Array(this.#size);
    this.#offset = 0;
  }
}
