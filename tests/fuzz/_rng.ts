// A small seeded PRNG (sfc32) and the random helpers the fuzz targets share. Every case gets
// its own generator derived from (run seed, case index), so one failing case can be replayed
// alone: `deno task fuzz --target NAME --seed S --case I`.

/** A deterministic pseudo-random generator. */
export class Rng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  /** @param seed Any 32-bit integer; @param stream a second number mixed in (the case index). */
  constructor(seed: number, stream = 0) {
    this.#a = 0x9e3779b9 ^ seed;
    this.#b = 0x243f6a88 ^ Math.imul(stream + 1, 0x85ebca6b);
    this.#c = 0xb7e15162 ^ Math.imul(seed, 0xc2b2ae35);
    this.#d = 1;
    for (let i = 0; i < 15; i++) this.u32();
  }

  /** A uniform 32-bit unsigned integer. */
  u32(): number {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0;
    this.#d = (this.#d + 1) | 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) | 0;
    this.#c = (this.#c << 21) | (this.#c >>> 11);
    this.#c = (this.#c + t) | 0;
    return t >>> 0;
  }

  /** A float in [0, 1). */
  float(): number {
    return this.u32() / 0x1_0000_0000;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return n <= 0 ? 0 : Math.floor(this.float() * n);
  }

  /** An integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.float() < p;
  }

  /** One element of `items`. */
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  /** A size skewed towards small values (log-uniform-ish) up to `max`. */
  size(max: number): number {
    const bits = this.int(Math.ceil(Math.log2(max + 1)) + 1);
    return Math.min(max, this.int(2 ** bits));
  }

  /** `n` random bytes. */
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.u32() & 0xff;
    return out;
  }

  /** A random string drawn from `alphabet`. */
  string(n: number, alphabet: string): string {
    let s = "";
    for (let i = 0; i < n; i++) s += alphabet.charAt(this.int(alphabet.length));
    return s;
  }

  /** A string of random code units, including controls, surrogates and non-BMP characters. */
  unicode(n: number): string {
    let s = "";
    for (let i = 0; i < n; i++) {
      switch (this.int(6)) {
        case 0:
          s += String.fromCharCode(this.int(0x20)); // controls
          break;
        case 1:
          s += String.fromCharCode(0xd800 + this.int(0x800)); // lone surrogates
          break;
        case 2:
          s += String.fromCodePoint(0x10000 + this.int(0xfffff)); // astral
          break;
        case 3:
          s += String.fromCharCode(0x80 + this.int(0x780));
          break;
        default:
          s += String.fromCharCode(0x20 + this.int(0x5f)); // printable ASCII
      }
    }
    return s;
  }
}

/** A fresh random 32-bit seed. */
export function randomSeed(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0]!;
}

/** Byte-level mutations of `input`: flips, inserts, deletes, truncation, splices, repeats. */
export function mutateBytes(rng: Rng, input: Uint8Array, rounds = rng.range(1, 4)): Uint8Array {
  let data: Uint8Array = input.slice();
  for (let r = 0; r < rounds; r++) {
    const at = rng.int(data.byteLength + 1);
    switch (rng.int(8)) {
      case 0: // bit flip
        if (data.byteLength > 0) data[at % data.byteLength]! ^= 1 << rng.int(8);
        break;
      case 1: // random byte
        if (data.byteLength > 0) data[at % data.byteLength] = rng.u32() & 0xff;
        break;
      case 2: // insert random bytes
        data = concat([data.subarray(0, at), rng.bytes(rng.size(32)), data.subarray(at)]);
        break;
      case 3: { // delete a range
        const n = rng.size(Math.max(1, data.byteLength - at));
        data = concat([data.subarray(0, at), data.subarray(at + n)]);
        break;
      }
      case 4: // truncate
        data = data.slice(0, at);
        break;
      case 5: { // duplicate a range
        const n = rng.size(Math.max(1, data.byteLength - at));
        data = concat([data.subarray(0, at + n), data.subarray(at, at + n), data.subarray(at + n)]);
        break;
      }
      case 6: // interesting byte values
        if (data.byteLength > 0) {
          data[at % data.byteLength] = rng.pick([0, 0x7f, 0x80, 0xff, 0x22, 0x5c, 0x7b, 0x7d]);
        }
        break;
      default: { // swap two ranges' bytes
        if (data.byteLength > 1) {
          const i = rng.int(data.byteLength);
          const j = rng.int(data.byteLength);
          [data[i], data[j]] = [data[j]!, data[i]!];
        }
      }
    }
  }
  return data;
}

/** Text-level mutations (on UTF-16 code units) of `input`. */
export function mutateText(rng: Rng, input: string, extra: readonly string[] = []): string {
  let text = input;
  const rounds = rng.range(1, 3);
  for (let r = 0; r < rounds; r++) {
    const at = rng.int(text.length + 1);
    switch (rng.int(6)) {
      case 0:
        text = text.slice(0, at) + text.slice(at + rng.size(Math.max(1, text.length - at)));
        break;
      case 1:
        text = text.slice(0, at) + rng.unicode(rng.size(8)) + text.slice(at);
        break;
      case 2:
        text = text.slice(0, at) + (extra.length > 0 ? rng.pick(extra) : "") + text.slice(at);
        break;
      case 3:
        text = text.slice(0, at);
        break;
      case 4: {
        const n = rng.size(Math.max(1, text.length - at));
        text = text.slice(0, at + n) + text.slice(at, at + n) + text.slice(at + n);
        break;
      }
      default:
        if (text.length > 0) {
          const i = rng.int(text.length);
          text = text.slice(0, i) + String.fromCharCode(text.charCodeAt(i) ^ (1 << rng.int(7))) +
            text.slice(i + 1);
        }
    }
  }
  return text;
}

/** Concatenates byte arrays. */
export function concat(parts: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.byteLength;
  }
  return out;
}

/** Base64 of bytes, for failure reports. */
export function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}
