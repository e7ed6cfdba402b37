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
