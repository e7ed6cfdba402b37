import { SlabReader } from "../services/slab_reader.ts";

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
  #reader: SlabReader;

  /** @param conn The client connection. @param limit Bytes held at most before reading pauses. */
  constructor(conn: Deno.Conn, limit: number) {
    this.#conn = conn;
    this.#reader = new SlabReader(conn);
    this.#limit = limit;
    void this.#pump();
  }

  /** Bytes held now. */
  get buffered(): number {
    return this.#buffered;
  }

  /** Whether the client already closed its write side. */
  get ended(): boolean {
    return this.#ended && this.#chunks.length === 0;
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
        this.#inFlight = this.#reader.read();
        const chunk = await this.#inFlight;
        if (chunk === null) this.#ended = true;
        else {
          // Copy small reads: each view would otherwise pin a whole 64 KiB read buffer.
          this.#chunks.push(chunk.byteLength < 16 * 1024 ? chunk.slice() : chunk);
          this.#buffered += chunk.byteLength;
        }
        this.#notify();
      }
    } catch (err) {
      this.#failed = err;
      this.#notify();
    }
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}
