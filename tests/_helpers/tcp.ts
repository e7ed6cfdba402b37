/** Writes all of `data`. */
export async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  for (let offset = 0; offset < data.byteLength;) {
    offset += await conn.write(data.subarray(offset));
  }
}

/** Reads until EOF, handing each chunk to `onChunk`; returns the byte count. */
export async function readToEnd(
  conn: Deno.Conn,
  onChunk: (chunk: Uint8Array) => void | Promise<void> = () => {},
): Promise<number> {
  const buffer = new Uint8Array(64 * 1024);
  let total = 0;
  while (true) {
    const n = await conn.read(buffer);
    if (n === null) return total;
    total += n;
    await onChunk(buffer.subarray(0, n));
  }
}

/** Joins byte chunks into one array. */
export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, p) => sum + p.byteLength, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.byteLength;
  }
  return out;
}

/** Reads until EOF and returns everything. */
export async function readAll(conn: Deno.Conn): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  await readToEnd(conn, (chunk) => void parts.push(chunk.slice()));
  return concat(parts);
}

/**
 * A deterministic, non-periodic-looking byte stream: a pseudo-random base of a length
 * prime to the chunk size, read cyclically, so no two aligned chunks repeat for a long time.
 */
export class Pattern {
  static readonly CHUNK = 64 * 1024;
  readonly #base: Uint8Array;
  readonly #length: number;
  #offset = 0;

  /** @param seed The PRNG seed. */
  constructor(seed = 0x9e3779b9) {
    this.#length = 1024 * 1024 + 7;
    this.#base = new Uint8Array(this.#length + Pattern.CHUNK);
    let x = seed >>> 0 || 1;
    for (let i = 0; i < this.#length; i++) {
      x ^= x << 13;
      x >>>= 0;
      x ^= x >>> 17;
      x ^= x << 5;
      x >>>= 0;
      this.#base[i] = x & 0xff;
    }
    this.#base.copyWithin(this.#length, 0, Pattern.CHUNK);
  }

  /** The next `n` (≤ CHUNK) bytes; valid until the next call. */
  next(n = Pattern.CHUNK): Uint8Array {
    const chunk = this.#base.subarray(this.#offset, this.#offset + n);
    this.#offset = (this.#offset + n) % this.#length;
    return chunk;
  }
}
