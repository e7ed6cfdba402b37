/** The edgevpn service stream protocol: a raw byte pipe, no header, no framing. */
export const SERVICE_PROTOCOL = "/edgevpn/service/0.1";
/**
 * Our service protocol: the same pipe, preceded by one status byte from the serving side
 * once it has connected to its target (0 = connected, 1 = target unreachable). It lets the
 * balancer fail over before forwarding a byte. Go peers do not speak it; callers fall back.
 */
export const SERVICE_ACK_PROTOCOL = "/p2p/service/1.0.0";
/** Status byte: the serving side is connected to its target. */
export const ACK_CONNECTED = 0;
/** Status byte: the serving side could not reach its target. */
export const ACK_TARGET_UNREACHABLE = 1;

/** Bucket of exposed services: name → `{PeerID, Name}`. */
export const SERVICES_BUCKET = "services";
/** Bucket of consumers allowed to open service streams: peer ID → `{PeerID, Timestamp}`. */
export const USERS_BUCKET = "users";

/** Pools of LocalAI: llama.cpp RPC workers, federated instances, MLX workers. */
export const WORKER_POOL = "worker";
export const FEDERATED_POOL = "federated";
export const MLX_WORKER_POOL = "mlx_worker";

/** Inbound and outbound service streams allowed per connection (libp2p defaults: 32/64). */
export const MAX_SERVICE_STREAMS = 4096;

/** Read size of the TCP side of a bridge. */
export const BRIDGE_READ_BUFFER_BYTES = 64 * 1024;
/** Bytes buffered towards a slow TCP reader before the stream is paused. */
export const BRIDGE_HIGH_WATER_BYTES = 1024 * 1024;

/** How often a worker refreshes its NodeData (LocalAI: ≤ 20 s). */
export const WORKER_ANNOUNCE_INTERVAL_MS = 10_000;
/** How often a consumer refreshes its `users` entry (LocalAI: ≤ 10 s). */
export const USER_ANNOUNCE_INTERVAL_MS = 10_000;
/** How often the `services` entry is re-checked (LocalAI: ≤ 60 s, only on change). */
export const SERVICE_ANNOUNCE_INTERVAL_MS = 20_000;

/** A worker is online while its last update is younger than this, on the receiver's clock. */
export const ONLINE_WINDOW_MS = 40_000;
/** Liveness pings to workers in a pool view. */
export const LIVENESS_PING_INTERVAL_MS = 1_000;
/** A ping slower than this counts as failed. */
export const LIVENESS_PING_TIMEOUT_MS = 1_500;
/** Consecutive failed pings after which a worker leaves the view. */
export const LIVENESS_MAX_FAILED_PINGS = 2;

/** Warnings about an unreachable target are logged at most this often. */
export const TARGET_WARNING_INTERVAL_MS = 10_000;
/** Bound on dialing the exposed target. */
export const TARGET_DIAL_TIMEOUT_MS = 5_000;
