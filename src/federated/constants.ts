/** Load-balancing strategies of `p2p federated --strategy`. */
export const STRATEGIES = ["least-connections", "round-robin", "random"] as const;

/** Default bound on opening a tunnel to one worker before trying the next. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 3_000;
/** Default time open connections get to finish after SIGTERM. */
export const DEFAULT_DRAIN_TIMEOUT_S = 10;
/** Default cap on concurrent client connections. */
export const DEFAULT_MAX_CLIENT_CONNECTIONS = 1_024;
/** Client bytes held while a tunnel is being opened (and replayed on failover). */
export const FAILOVER_BUFFER_BYTES = 1024 * 1024;
/** First backoff of a worker that failed; doubles per consecutive failure. */
export const FAILURE_BACKOFF_BASE_MS = 1_000;
/** Longest backoff of a worker that keeps failing. */
export const FAILURE_BACKOFF_MAX_MS = 30_000;
/** Warnings about refused connections are logged at most this often. */
export const REFUSAL_LOG_INTERVAL_MS = 5_000;
