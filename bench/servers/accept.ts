/**
 * Accepts connections until the listener is closed. A failed accept (a client that reset
 * before it was accepted: `NotConnected` from getpeername, or out of file descriptors) is
 * skipped rather than ending the loop, and with it the whole helper server.
 *
 * @module
 */

/**
 * Calls `handle` with every accepted connection, until `listener` is closed.
 *
 * @param listener The listener.
 * @param handle Called (not awaited) with each connection.
 */
export async function acceptLoop(
  listener: Deno.Listener<Deno.TcpConn>,
  handle: (conn: Deno.TcpConn) => void,
): Promise<void> {
  while (true) {
    let conn: Deno.TcpConn;
    try {
      conn = await listener.accept();
    } catch (err) {
      if (err instanceof Deno.errors.BadResource || err instanceof Deno.errors.Interrupted) return;
      await new Promise((resolve) => setTimeout(resolve, 10));
      continue;
    }
    handle(conn);
  }
}
