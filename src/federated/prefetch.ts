import { SlabReader } from "../services/slab_reader.ts";
import { PREFETCH_FIRST_READ_BYTES } from "./constants.ts";

/**
 * Reads a client connection ahead, up to a bound, while the balancer opens a tunnel: the
 * bytes are held (and could be replayed) and then handed to the bridge through `read()`,
 * which continues with the same in-flight read, so no byte is lost or reordered.
 */
export class Prefetcher {
  #conn: Deno.Conn;
  #limit: number;
  #chunks: Uint8Array[] = [];
  #buffered = 0;
  #inFlight: Promise<Uint8Array | null> | undefined;
  #ended = false;
  #failed: unknown;
  #wake: (() => void) | undefined;
  #reader: SlabReader | undefined;
  #onBytes: (bytes: number) => void;
  #firstRead: Promise<boolean>;
  #firstReadDone: ((gotData: boolean) => void) | undefined;

  /**
   * @param conn The client connection.
   * @param limit Bytes held at most before reading pauses.
   * @param onBytes Called with each chunk's size as it arrives (the idle timer).
   */
  constructor(conn: Deno.Conn, limit: number, onBytes: (bytes: number) => void = () => {}) {
    this.#conn = conn;
    this.#limit = limit;
    this.#onBytes = onBytes;
    this.#firstRead = new Promise((resolve) => (this.#firstReadDone = resolve));
    void this.#pump();
  }

  /**
   * Resolves once the client has sent its first bytes (`true`), or closed or failed before
   * any (`false`): a client-first protocol gets its tunnel only then.
   */
  firstData(): Promise<boolean> {
    return this.#firstRead;
  }

  /** Bytes held now. */
  get buffered(): number {
    return this.#buffered;
  }

  /** Whether the client already closed its write side. */
  get ended(): boolean {
    return this.#ended && this.#chunks.length === 0;
  }

  /** The chunks held now (kept until {@linkcode Prefetcher.drop}: a failover replays them). */
  held(): Uint8Array[] {
    return [...this.#chunks];
  }

  /** Forgets the first `count` held chunks (they were delivered). */
  drop(count: number): void {
    for (const chunk of this.#chunks.splice(0, count)) this.#buffered -= chunk.byteLength;
    this.#notify();
  }

  /** The next chunk: held ones first, then the stream of the connection; `null` at EOF. */
  read = async (): Promise<Uint8Array | null> => {
    while (true) {
      const chunk = this.#chunks.shift();
      if (chunk !== undefined) {
        this.#buffered -= chunk.byteLength;
        this.#notify();
        return chunk;
      }
      if (this.#failed !== undefined) throw this.#failed;
      if (this.#ended) return null;
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
  };

  async #pump(): Promise<void> {
    try {
      while (!this.#ended) {
        if (this.#buffered >= this.#limit) {
          await new Promise<void>((resolve) => (this.#wake = resolve));
          continue;
        }
        this.#inFlight = this.#next();
        const chunk = await this.#inFlight;
        if (chunk === null) this.#ended = true;
        else {
          // Copy small reads: each view would otherwise pin a whole 64 KiB read buffer.
          this.#chunks.push(chunk.byteLength < 16 * 1024 ? chunk.slice() : chunk);
          this.#buffered += chunk.byteLength;
          this.#onBytes(chunk.byteLength);
        }
        this.#firstReadDone?.(chunk !== null);
        this.#firstReadDone = undefined;
        this.#notify();
      }
    } catch (err) {
      this.#failed = err;
      this.#firstReadDone?.(false);
      this.#firstReadDone = undefined;
      this.#notify();
    }
  }

  /**
   * The first read goes into a small buffer: a client that stays silent holds that, not a
   * read slab (thousands of idle clients cost a few MiB, not tens).
   */
  async #next(): Promise<Uint8Array | null> {
    if (this.#reader !== undefined) return await this.#reader.read();
    const first = new Uint8Array(PREFETCH_FIRST_READ_BYTES);
    const n = await this.#conn.read(first);
    this.#reader = new SlabReader(this.#conn);
    return n === null ? null : first.subarray(0, n);
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}
