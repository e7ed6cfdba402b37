/** Close a TCP socket after this long without traffic (as `@libp2p/tcp`: 2 min). */
export const DENO_TCP_SOCKET_TIMEOUT_MS = 2 * 60_000;
/** A new slab is started when less than this is left in the current one. */
export const DENO_TCP_MIN_READ = 64 * 1024;
/**
 * A quiet connection reads into one buffer of this size and hands up copies; a read that fills
 * it switches the connection to slab reads until a read returns less than this again.
 */
export const DENO_TCP_SMALL_READ = 16 * 1024;
/** Queued (unwritten) bytes above which libp2p is told to wait for `drain`. */
export const DENO_TCP_WRITE_HIGH_WATER = 1024 * 1024;
/** `drain` is signalled once the queue is back under this. */
export const DENO_TCP_WRITE_LOW_WATER = 256 * 1024;
/** Queued pieces are copied together into writes of at most this many bytes. */
export const DENO_TCP_MAX_WRITE_BATCH = 256 * 1024;
/** Write batches of a few frames (the usual case) use buffers of this size. */
export const DENO_TCP_SMALL_BATCH = 16 * 1024;
/** Write batch buffers kept for reuse, per size (one is in use per connection while it writes). */
export const DENO_TCP_SCRATCH_POOL = 8;
/** After a failed accept (no file descriptors left, say), the listener retries this much later. */
export const DENO_TCP_ACCEPT_RETRY_MS = 100;
/** Noise: plaintexts from this size are encrypted with node:crypto, smaller ones with WASM. */
export const NOISE_ENCRYPT_NODE_FROM = 384;
/** Noise: ciphertexts from this size are decrypted with node:crypto, smaller ones with WASM. */
export const NOISE_DECRYPT_NODE_FROM = 256;
/**
 * Noise, `openssl: "bulk"`: the first message of this many bytes loads OpenSSL's cipher. Bulk
 * data fills messages (tunnels, relayed circuits); a member's own traffic (gossip, DHT, pings)
 * stays below it.
 */
export const NOISE_OPENSSL_ON_DEMAND_FROM = 16 * 1024;
/** Peers whose records the peer store cache keeps (`peer_store_cache.ts`). */
export const PEER_STORE_CACHE_MAX_PEERS = 4096;
/** A peer store read within this many ms of the last read or write of the record reuses it. */
export const PEER_STORE_READ_CACHE_MS = 2_000;
/**
 * A merge of addresses a peer is already recorded with is skipped for this long after the last
 * one that went through; then one goes through to renew their age (expired after an hour).
 */
export const PEER_STORE_ADDRESS_REFRESH_MS = 60_000;
/** How long a dial waits for a wildcard listener still opening, to leave from its port. */
export const DENO_TCP_REUSE_PORT_WAIT_MS = 1_000;

/** Bytes of a ChaCha20-Poly1305 tag, which ends every noise message. */
export const CHACHA_TAG_BYTES = 16;
/** The largest noise message, its 2-byte length prefix excluded (the spec's 65535). */
export const NOISE_MAX_MESSAGE_BYTES = 65_535;
/** A full noise message on the wire: its 2-byte length prefix and 65,535 bytes. */
export const NOISE_FULL_WIRE_BYTES = 2 + NOISE_MAX_MESSAGE_BYTES;
/**
 * Reads fill the free tail of a slab of this size; views of it are handed to libp2p. Two full
 * noise messages (128 KiB and 2 bytes), so that a read can end where a message does.
 */
export const DENO_TCP_READ_SLAB = 2 * NOISE_FULL_WIRE_BYTES;
/**
 * Buffers of full sealed messages a node keeps for reuse (`buffer_pool.ts`): what the TCP
 * writer holds before it asks for a drain (1 MiB).
 */
export const NOISE_SEAL_BUFFERS_KEPT = 16;
/**
 * Read slabs of a tunnel's TCP side that a node reuses once their bytes are sealed
 * (`send_slabs.ts`): the size a bulk reader's slab grows to, and how many are kept (1 MiB).
 */
export const SEND_SLAB_BYTES = 128 * 1024;
/** See {@linkcode SEND_SLAB_BYTES}. */
export const SEND_SLABS_KEPT = 8;
/** The most plaintext one noise message carries. */
export const NOISE_MAX_PLAINTEXT_BYTES = NOISE_MAX_MESSAGE_BYTES - CHACHA_TAG_BYTES;
