import type { Strategy } from "./balancer.ts";
/** Load-balancing strategies of `p2p federated --strategy`. */
export const STRATEGIES: readonly Strategy[] = ["least-connections", "round-robin", "random"];

/** Default bound on opening a tunnel to one worker before trying the next. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 3_000;
/** Default time open connections get to finish after SIGTERM. */
export const DEFAULT_DRAIN_TIMEOUT_S = 10;
/** Default cap on concurrent client connections. */
export const DEFAULT_MAX_CLIENT_CONNECTIONS = 1_024;
/** Client bytes held while a tunnel is being opened (and replayed on failover). */
export const FAILOVER_BUFFER_BYTES = 1024 * 1024;
/** Size of the first read from a client (all an idle client holds while it says nothing). */
export const PREFETCH_FIRST_READ_BYTES = 1024;
/** First backoff of a worker that failed; doubles per consecutive failure. */
export const FAILURE_BACKOFF_BASE_MS = 1_000;
/** Longest backoff of a worker that keeps failing. */
export const FAILURE_BACKOFF_MAX_MS = 30_000;
/**
 * Default `--idle-timeout`: a client connection with no byte either way for this long is
 * closed, tunnel and all. Long enough for a backend that thinks before it answers (an LLM
 * without streaming), short enough that idle clients do not pile up for hours.
 */
export const DEFAULT_IDLE_TIMEOUT_S = 300;
/**
 * Client connections that have sent nothing yet held at once (they hold no tunnel); past
 * this the one that waited longest is closed.
 */
export const MAX_WAITING_CLIENTS = 4_096;

/** Client connections are checked for the idle timeout this often at most, in ms. */
export const IDLE_SWEEP_MAX_MS = 1_000;
/** ...and at least this many times per idle timeout (a closed connection is that much late). */
export const IDLE_SWEEPS_PER_TIMEOUT = 4;
