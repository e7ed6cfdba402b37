/** Largest request body the API reads; a longer one is cut off while it arrives (413). */
export const API_MAX_BODY_BYTES = 1024 * 1024;
/** Largest request head (request line and headers); a longer one gets 431. */
export const API_MAX_HEAD_BYTES = 16 * 1024;
/**
 * A request's head must be complete this long after its first byte (or after the connection
 * opened): a client that trickles headers (slowloris) is closed.
 */
export const API_HEADER_TIMEOUT_MS = 10_000;
/** A keep-alive connection with no new request for this long is closed. */
export const API_IDLE_TIMEOUT_MS = 10_000;
/**
 * A request body must arrive whole within this long of its first read (at most 1 MiB: 35 KB/s
 * at the least); a body trickled byte by byte cannot hold a connection for longer.
 */
export const API_BODY_TIMEOUT_MS = 30_000;
/** An answer the client does not read within this long closes the connection. */
export const API_WRITE_TIMEOUT_MS = 30_000;
/**
 * Connections held at once. When all are taken, the one that has waited longest for a request
 * is closed to make room (idle and slow-header ones go first); busy ones are never closed.
 */
export const API_MAX_CONNECTIONS = 256;
/**
 * After answering with `connection: close` while the client may still be sending (a refused
 * upload), its bytes are read and dropped for up to this long / this many bytes, so the close
 * does not reset the connection before the client has read the answer.
 */
export const API_LINGER_MS = 1_000;
/** See {@linkcode API_LINGER_MS}. */
export const API_LINGER_BYTES = 256 * 1024;
/** On shutdown, requests in progress get this long to finish before their connections close. */
export const API_SHUTDOWN_GRACE_MS = 5_000;
