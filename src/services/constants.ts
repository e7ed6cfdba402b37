import { YAMUX_CONTROL_STREAMS, YAMUX_MAX_STREAMS } from "../node/constants.ts";

/**
 * The edgevpn service stream protocol: a raw byte pipe, no header, no framing.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { SERVICE_PROTOCOL } from "@p2p/p2p/services";
 *
 * assert.equal(SERVICE_PROTOCOL, "/edgevpn/service/0.1");
 * ```
 */
export const SERVICE_PROTOCOL = "/edgevpn/service/0.1";
/**
 * Our service protocol: the same pipe, preceded by one status byte from the serving side
 * once it has connected to its target (0 = connected, 1 = target unreachable). It lets the
 * balancer fail over before forwarding a byte. Go peers do not speak it; callers fall back.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { SERVICE_ACK_PROTOCOL, SERVICE_PROTOCOL } from "@p2p/p2p/services";
 *
 * assert.equal(SERVICE_ACK_PROTOCOL, "/p2p/service/1.0.0");
 * assert.notEqual(SERVICE_ACK_PROTOCOL, SERVICE_PROTOCOL);
 * ```
 */
export const SERVICE_ACK_PROTOCOL = "/p2p/service/1.0.0";
/**
 * Status byte: the serving side is connected to its target.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { ACK_CONNECTED } from "@p2p/p2p/services";
 *
 * assert.equal(ACK_CONNECTED, 0);
 * ```
 */
export const ACK_CONNECTED = 0;
/**
 * Status byte: the serving side could not reach its target.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { ACK_CONNECTED, ACK_TARGET_UNREACHABLE } from "@p2p/p2p/services";
 *
 * assert.equal(ACK_TARGET_UNREACHABLE, 1);
 * assert.notEqual(ACK_TARGET_UNREACHABLE, ACK_CONNECTED);
 * ```
 */
export const ACK_TARGET_UNREACHABLE = 1;

export { SERVICES_BUCKET, USERS_BUCKET } from "../ledger/constants.ts";

/**
 * The pool of llama.cpp RPC workers in LocalAI.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { poolBucket, WORKER_POOL } from "@p2p/p2p/services";
 *
 * assert.equal(WORKER_POOL, "worker");
 * assert.equal(poolBucket(WORKER_POOL, "team"), "team_worker");
 * ```
 */
export const WORKER_POOL = "worker";
/**
 * The pool of federated LocalAI instances, which the federated balancer spreads requests over.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { FEDERATED_POOL, poolBucket } from "@p2p/p2p/services";
 *
 * assert.equal(FEDERATED_POOL, "federated");
 * assert.equal(poolBucket(FEDERATED_POOL, "team"), "team_federated");
 * ```
 */
export const FEDERATED_POOL = "federated";
/**
 * The pool of MLX workers in LocalAI.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { MLX_WORKER_POOL, poolBucket } from "@p2p/p2p/services";
 *
 * assert.equal(MLX_WORKER_POOL, "mlx_worker");
 * assert.equal(poolBucket(MLX_WORKER_POOL), "mlx_worker");
 * ```
 */
export const MLX_WORKER_POOL = "mlx_worker";

/**
 * Inbound and outbound service streams (tunnels) allowed per connection (libp2p defaults:
 * 32/64): the muxer's cap less what other protocols need, so tunnels never starve the ping
 * that keeps the connection. `p2p federated --max-connections` may not exceed it.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { MAX_SERVICE_STREAMS } from "@p2p/p2p/services";
 *
 * // Many more tunnels per connection than libp2p allows by default.
 * assert.equal(MAX_SERVICE_STREAMS, 4096);
 * ```
 */
export const MAX_SERVICE_STREAMS: number = YAMUX_MAX_STREAMS - YAMUX_CONTROL_STREAMS;

/**
 * Read size of the TCP side of a bridge.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { BRIDGE_HIGH_WATER_BYTES, BRIDGE_READ_BUFFER_BYTES } from "@p2p/p2p/services";
 *
 * assert.equal(BRIDGE_READ_BUFFER_BYTES, 64 * 1024);
 * // A full read never pauses the stream on its own.
 * assert.ok(BRIDGE_READ_BUFFER_BYTES < BRIDGE_HIGH_WATER_BYTES);
 * ```
 */
export const BRIDGE_READ_BUFFER_BYTES = 64 * 1024;
/**
 * A bridge reads into the free tail of a slab: its first size.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { SLAB_READER_INITIAL_BYTES, SLAB_READER_MIN_READ_BYTES } from "@p2p/p2p/services";
 *
 * // A fresh slab has room for several reads.
 * assert.ok(SLAB_READER_INITIAL_BYTES >= 2 * SLAB_READER_MIN_READ_BYTES);
 * ```
 */
export const SLAB_READER_INITIAL_BYTES = 16 * 1024;
/**
 * The slab doubles while reads fill it (bulk), up to this.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { SLAB_READER_INITIAL_BYTES, SLAB_READER_MAX_BYTES } from "@p2p/p2p/services";
 *
 * assert.ok(SLAB_READER_MAX_BYTES > SLAB_READER_INITIAL_BYTES);
 * // Reached by doubling from the first size.
 * assert.ok(Number.isInteger(Math.log2(SLAB_READER_MAX_BYTES / SLAB_READER_INITIAL_BYTES)));
 * ```
 */
export const SLAB_READER_MAX_BYTES = 128 * 1024;
/**
 * A new slab is started when less than this is free in the current one.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { SLAB_READER_INITIAL_BYTES, SLAB_READER_MIN_READ_BYTES } from "@p2p/p2p/services";
 *
 * assert.ok(SLAB_READER_MIN_READ_BYTES < SLAB_READER_INITIAL_BYTES);
 * ```
 */
export const SLAB_READER_MIN_READ_BYTES = 4 * 1024;
/**
 * Largest single read of a bridge: two noise messages (65519 bytes of plaintext each) less
 * the 12-byte yamux header, so that a chunk becomes one yamux frame that fills whole noise
 * messages, instead of two full ones and a 40-byte one.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { SLAB_READER_MAX_BYTES, SLAB_READER_MAX_READ_BYTES } from "@p2p/p2p/services";
 *
 * // A yamux frame (12-byte header) of one read fills exactly two noise messages.
 * assert.equal((SLAB_READER_MAX_READ_BYTES + 12) % 65519, 0);
 * assert.ok(SLAB_READER_MAX_READ_BYTES <= SLAB_READER_MAX_BYTES);
 * ```
 */
export const SLAB_READER_MAX_READ_BYTES = 2 * 65519 - 12;
/**
 * Parts of a stream message are copied together into writes of at most this many bytes.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { SLAB_READER_MAX_READ_BYTES, WRITE_PARTS_BATCH_BYTES } from "@p2p/p2p/services";
 *
 * // A read's worth of stream data goes out in one write.
 * assert.ok(WRITE_PARTS_BATCH_BYTES >= SLAB_READER_MAX_READ_BYTES);
 * ```
 */
export const WRITE_PARTS_BATCH_BYTES = 256 * 1024;
/**
 * Batch buffers kept for reuse (one is lent per bridge while it writes).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { WRITE_PARTS_BATCH_BYTES, WRITE_PARTS_POOL } from "@p2p/p2p/services";
 *
 * // What the pool may hold at most, in bytes.
 * assert.ok(WRITE_PARTS_POOL * WRITE_PARTS_BATCH_BYTES <= 8 * 1024 * 1024);
 * ```
 */
export const WRITE_PARTS_POOL = 16;
/**
 * Bytes buffered towards a slow TCP reader before the stream is paused.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { BRIDGE_HIGH_WATER_BYTES, BRIDGE_READ_BUFFER_BYTES } from "@p2p/p2p/services";
 *
 * assert.equal(BRIDGE_HIGH_WATER_BYTES, 1024 * 1024);
 * // Several full reads fit below the high water mark.
 * assert.ok(BRIDGE_HIGH_WATER_BYTES >= 2 * BRIDGE_READ_BUFFER_BYTES);
 * ```
 */
export const BRIDGE_HIGH_WATER_BYTES = 1024 * 1024;

/**
 * How often a worker refreshes its NodeData (LocalAI: ≤ 20 s).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { ONLINE_WINDOW_MS, WORKER_ANNOUNCE_INTERVAL_MS } from "@p2p/p2p/services";
 *
 * assert.ok(WORKER_ANNOUNCE_INTERVAL_MS <= 20_000);
 * // A live worker refreshes at least twice per online window.
 * assert.ok(2 * WORKER_ANNOUNCE_INTERVAL_MS <= ONLINE_WINDOW_MS);
 * ```
 */
export const WORKER_ANNOUNCE_INTERVAL_MS = 10_000;
/**
 * How often a consumer refreshes its `users` entry (LocalAI: ≤ 10 s).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { USER_ANNOUNCE_INTERVAL_MS } from "@p2p/p2p/services";
 *
 * assert.ok(USER_ANNOUNCE_INTERVAL_MS <= 10_000);
 * ```
 */
export const USER_ANNOUNCE_INTERVAL_MS = 10_000;
/**
 * How often the `services` entry is re-checked (LocalAI: ≤ 60 s, only on change).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { SERVICE_ANNOUNCE_INTERVAL_MS } from "@p2p/p2p/services";
 *
 * assert.ok(SERVICE_ANNOUNCE_INTERVAL_MS <= 60_000);
 * ```
 */
export const SERVICE_ANNOUNCE_INTERVAL_MS = 20_000;

/**
 * A worker is online while its last update is younger than this, on the receiver's clock.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { ONLINE_WINDOW_MS } from "@p2p/p2p/services";
 *
 * assert.equal(ONLINE_WINDOW_MS, 40_000);
 * ```
 */
export const ONLINE_WINDOW_MS = 40_000;
export {
  LIVENESS_MAX_FAILED_PINGS,
  LIVENESS_PING_INTERVAL_MS,
  LIVENESS_PING_TIMEOUT_MS,
} from "../node/constants.ts";

/**
 * A warning that can repeat per connection or stream (a target down, no worker for a client)
 * is logged at most once per this interval, with the count of the ones it stands for.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { REPEATED_WARNING_INTERVAL_MS } from "@p2p/p2p/services";
 *
 * assert.equal(REPEATED_WARNING_INTERVAL_MS, 10_000);
 * ```
 */
export const REPEATED_WARNING_INTERVAL_MS = 10_000;
/**
 * After a failed accept (out of file descriptors), a listener waits this long and goes on
 * accepting, instead of stopping for good.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { ACCEPT_RETRY_MS } from "@p2p/p2p/services";
 *
 * assert.equal(ACCEPT_RETRY_MS, 100);
 * ```
 */
export const ACCEPT_RETRY_MS = 100;
/**
 * Bound on dialing the exposed target.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { REPEATED_WARNING_INTERVAL_MS, TARGET_DIAL_TIMEOUT_MS } from "@p2p/p2p/services";
 *
 * assert.equal(TARGET_DIAL_TIMEOUT_MS, 5_000);
 * // A target that stays down is reported once per warning interval, not per dial.
 * assert.ok(TARGET_DIAL_TIMEOUT_MS < REPEATED_WARNING_INTERVAL_MS);
 * ```
 */
export const TARGET_DIAL_TIMEOUT_MS = 5_000;
/**
 * How long the serving side waits for a new consumer's `users` entry and membership proof
 * before it refuses the consumer's stream.
 */
export const ADMISSION_WAIT_MS = 3_000;
/** How often a pool view looks for entries that went stale (no event says so). */
export const STALENESS_CHECK_INTERVAL_MS = 1_000;
