/**
 * Closing a TCP connection with a reset (RST) instead of a FIN, so that the client of a
 * tunnel that was cut (a relay ended the circuit) sees "connection reset" rather than a
 * clean end of a truncated stream. Deno has no API for it, and SO_LINGER {on, 0 s} does not
 * help (Deno shuts the write half down, sending a FIN, before it closes). Linux resets an
 * established connection that `connect()`s to an `AF_UNSPEC` address: that is done through
 * libc when the program may use FFI (`--allow-ffi`, included in `-A`); without it the
 * connection is closed normally (the cut is still logged).
 *
 * @module
 */

import { processLibc } from "../node/libc.ts";

/** `struct sockaddr` with `sa_family = AF_UNSPEC` (0). */
const UNSPEC_ADDRESS = new Uint8Array(16);

/** The socket's file descriptor, which Deno keeps under an internal symbol. */
function fdOf(conn: Deno.Conn): number | undefined {
  const symbol = Object.getOwnPropertySymbols(conn).find((s) =>
    s.description === "Deno.internal.fd"
  );
  const fd = symbol === undefined
    ? undefined
    : (conn as unknown as Record<symbol, unknown>)[symbol];
  return typeof fd === "number" ? fd : undefined;
}

/**
 * Closes `conn` with a TCP reset where possible, else normally.
 *
 * @param conn The connection to close.
 * @returns Whether a reset was sent.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { resetConnection } from "./tcp_reset.ts";
 *
 * const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
 * const server = await listener.accept();
 * const reset = resetConnection(server);
 * // With FFI allowed (deno test -A) the client sees a reset, else a clean end.
 * const read = client.read(new Uint8Array(1)).then(() => false, () => true);
 * assert.equal(await read, reset);
 * client.close();
 * listener.close();
 * ```
 */
export function resetConnection(conn: Deno.Conn): boolean {
  let reset = false;
  const fd = fdOf(conn);
  const libc = processLibc();
  if (fd !== undefined && libc !== undefined) {
    reset = libc.connect(fd, UNSPEC_ADDRESS, UNSPEC_ADDRESS.byteLength) === 0;
  }
  try {
    conn.close();
  } catch {
    // closed already
  }
  return reset;
}
