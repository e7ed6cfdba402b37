/**
 * The two socket chores every TCP user in the tree shares: writing a whole buffer (Deno's
 * `write` may take part of it) and closing without caring whether it was already closed.
 *
 * @module
 */

/** Writes every byte of `data` to `conn`, however many `write` calls that takes. */
export async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  for (let offset = 0; offset < data.byteLength;) {
    offset += await conn.write(data.subarray(offset));
  }
}

/** Closes `closer` (a connection or a listener); one already closed is left as it is. */
export function closeQuietly(closer: { close(): void }): void {
  try {
    closer.close();
  } catch {
    // already closed
  }
}
