/**
 * kad-dht's table of 65,536 key prefixes (`generated-prefix-list.js`: for each 16-bit prefix, a
 * number whose SHA-256 starts with it; its routing-table refresh indexes it to make a random key
 * with a given common prefix length) is an array literal. It costs every process that loads the
 * DHT its source text, 397 KB that V8 keeps for lazy compilation, and a 512 KiB array in the heap.
 * In the bundle it becomes 32-bit integers in base64 (350 KB of source), decoded once into a
 * `Uint32Array` (256 KiB, outside the heap) that the refresh indexes the same way.
 *
 * @module
 */

/** The bytes per entry: one little-endian `uint32`. */
const ENTRY_BYTES = 4;

/**
 * The entries of the table module's text (`export default [ n, n, … ];`).
 *
 * @param moduleText The text of kad-dht's `generated-prefix-list.js`.
 * @returns The entries, in order.
 * @throws {Error} When the text holds no array literal of integers.
 */
export function readPrefixTable(moduleText: string): number[] {
  const open = moduleText.indexOf("[");
  const close = moduleText.lastIndexOf("]");
  if (open < 0 || close < open) throw new Error("Cannot read the prefix table: no array literal");
  const body = moduleText.slice(open + 1, close).replace(/\s+/g, "").replace(/,$/, "");
  if (!/^\d+(,\d+)*$/.test(body)) {
    throw new Error("Cannot read the prefix table: not a list of integers");
  }
  return body.split(",").map(Number);
}

/**
 * Packs the entries as little-endian 32-bit integers, in base64.
 *
 * @param entries The table's entries.
 * @returns The base64 text.
 * @throws {RangeError} When an entry is not a 32-bit unsigned integer.
 */
export function packPrefixTable(entries: readonly number[]): string {
  const view = new DataView(new ArrayBuffer(entries.length * ENTRY_BYTES));
  entries.forEach((entry, i) => {
    if (!Number.isInteger(entry) || entry < 0 || entry >= 2 ** 32) {
      throw new RangeError(`Cannot pack the prefix table: entry ${i} is ${entry}`);
    }
    view.setUint32(i * ENTRY_BYTES, entry, true);
  });
  return new Uint8Array(view.buffer).toBase64();
}

/**
 * A JavaScript expression that evaluates to the packed table as a `Uint32Array`: what the bundle
 * has in place of the array literal. On a little-endian machine (every release target) the
 * decoded bytes are the array, with no loop: a decoding loop of 65,536 turns added 2 MiB of the
 * `deno` binary's code pages to an idle node (measured; most likely V8's optimizing compilers).
 *
 * @param base64 The output of {@linkcode packPrefixTable}.
 * @returns The expression's source.
 */
export function prefixTableExpression(base64: string): string {
  return `(b=>new Uint8Array(new Uint16Array([1]).buffer)[0]===1?new Uint32Array(b.buffer):Uint32Array.from({length:b.length/4},(_,i)=>new DataView(b.buffer).getUint32(4*i,!0)))(Uint8Array.fromBase64(${
    JSON.stringify(base64)
  }))`;
}

/**
 * Replaces the table's array literal by the packed expression. The minifier writes some entries
 * in exponent form (`14e3`), so each array of numbers is compared with the table by value.
 *
 * @param code A chunk of the bundle.
 * @param entries The table's entries.
 * @returns The code, and how many literals it replaced.
 */
export function replacePrefixTable(
  code: string,
  entries: readonly number[],
): { code: string; count: number } {
  const candidates = /\[([\d.e]+),/g;
  let out = "";
  let count = 0;
  let from = 0;
  for (const match of code.matchAll(candidates)) {
    const at = match.index;
    if (at < from || Number(match[1]) !== entries[0]) continue;
    const end = code.indexOf("]", at);
    if (end < 0) break;
    const tokens = code.slice(at + 1, end).split(",");
    const same = tokens.length === entries.length &&
      tokens.every((token, i) => /^[\d.e]+$/.test(token) && Number(token) === entries[i]);
    if (!same) continue;
    out += code.slice(from, at) + prefixTableExpression(packPrefixTable(entries));
    from = end + 1;
    count++;
  }
  return { code: out + code.slice(from), count };
}
