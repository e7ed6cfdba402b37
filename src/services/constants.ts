import { YAMUX_CONTROL_STREAMS, YAMUX_MAX_STREAMS } from "../node/constants.ts";
import { NOISE_MAX_PLAINTEXT_BYTES, SEND_SLAB_BYTES } from "../node/deno_tcp_constants.ts";

/**
 * The edgevpn service stream protocol: a raw byte pipe, no header, no framing.
 */
export const SERVICE_PROTOCOL = "/edgevpn/service/0.1";
/**
 * Our service protocol: the same pipe, preceded by one status byte from the serving side
 * once it has connected to its target (0 = connected, 1 = target unreachable). It lets the
 * balancer fail over before forwarding a byte. Go peers do not speak it; callers fall back.
 */
export const SERVICE_ACK_PROTOCOL = "/p2p/service/1.0.0";
/**
 * Status byte: the serving side is connected to its target.
 */
export const ACK_CONNECTED = 0;
/**
 * Status byte: the serving side could not reach its target.
 */
export const ACK_TARGET_UNREACHABLE = 1;

export { SERVICES_BUCKET, USERS_BUCKET } from "../ledger/constants.ts";

/**
 * The pool of llama.cpp RPC workers in LocalAI.
 */
export const WORKER_POOL = "worker";
/**
 * The pool of federated LocalAI instances, which the federated balancer spreads requests over.
 */
export const FEDERATED_POOL = "federated";
/**
 * The pool of MLX workers in LocalAI.
 */
export const MLX_WORKER_POOL = "mlx_worker";

/**
 * Inbound and outbound service streams (tunnels) allowed per connection (libp2p defaults:
 * 32/64): the muxer's cap less what other protocols need, so tunnels never starve the ping
 * that keeps the connection. `p2p federated --max-connections` may not exceed it.
 */
export const MAX_SERVICE_STREAMS: number = YAMUX_MAX_STREAMS - YAMUX_CONTROL_STREAMS;

/**
 * Read size of the TCP side of a bridge.
 */
export const BRIDGE_READ_BUFFER_BYTES = 64 * 1024;
/**
 * A bridge reads into the free tail of a slab: its first size.
 */
export const SLAB_READER_INITIAL_BYTES = 16 * 1024;
/**
 * The slab doubles while reads fill it (bulk), up to this: the node's reused send slabs.
 */
export const SLAB_READER_MAX_BYTES = SEND_SLAB_BYTES;
/**
 * A new slab is started when less than this is free in the current one.
 */
export const SLAB_READER_MIN_READ_BYTES = 4 * 1024;
/**
 * Largest single read of a bridge: two noise messages (65519 bytes of plaintext each) less
 * the 12-byte yamux header, so that a chunk becomes one yamux frame that fills whole noise
 * messages, instead of two full ones and a 40-byte one.
 */
export const SLAB_READER_MAX_READ_BYTES = 2 * NOISE_MAX_PLAINTEXT_BYTES - 12;
/**
 * Parts of a stream message are copied together into writes of at most this many bytes.
 */
export const WRITE_PARTS_BATCH_BYTES = 256 * 1024;
/**
 * Batch buffers a network's tunnels keep for reuse (one is lent per bridge while it writes).
 */
export const WRITE_PARTS_POOL = 16;
/**
 * Bytes buffered towards a slow TCP reader before the stream is paused.
 */
export const BRIDGE_HIGH_WATER_BYTES = 1024 * 1024;

/**
 * How often a worker refreshes its NodeData (LocalAI: ≤ 20 s).
 */
export const WORKER_ANNOUNCE_INTERVAL_MS = 10_000;
/**
 * How often a consumer refreshes its `users` entry (LocalAI: ≤ 10 s).
 */
export const USER_ANNOUNCE_INTERVAL_MS = 10_000;
/**
 * How often the `services` entry is re-checked (LocalAI: ≤ 60 s, only on change).
 */
export const SERVICE_ANNOUNCE_INTERVAL_MS = 20_000;

/**
 * A worker is online while its last update is younger than this, on the receiver's clock.
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
 */
export const REPEATED_WARNING_INTERVAL_MS = 10_000;
/**
 * After a failed accept (out of file descriptors), a listener waits this long and goes on
 * accepting, instead of stopping for good.
 */
export const ACCEPT_RETRY_MS = 100;
/**
 * Bound on dialing the exposed target.
 */
export const TARGET_DIAL_TIMEOUT_MS = 5_000;
/**
 * How long the serving side waits for a new consumer's `users` entry and membership proof
 * before it refuses the consumer's stream.
 */
export const ADMISSION_WAIT_MS = 3_000;
/** How often a pool view looks for entries that went stale (no event says so). */
export const STALENESS_CHECK_INTERVAL_MS = 1_000;

/**
 * How long a pool view's online list is reused when nothing it follows changed: a balancer
 * asks for it on every client connection, and each answer parses every entry of the pool
 * (3 % of `p2p federated`'s CPU per connection, measured).
 */
export const ONLINE_LIST_REUSE_MS = 250;

/** Parsed peer IDs a tunnel dialer keeps, by their string form; cleared when it reaches this. */
export const MAX_CACHED_PEER_IDS = 4096;
