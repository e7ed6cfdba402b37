/**
 * Protocol IDs, limits and timings of the messaging layer.
 *
 * @module
 */

/**
 * Our direct-message protocol: one length-prefixed request frame per stream, answered by one
 * length-prefixed frame (an acknowledgement, a response or an error). Go peers do not speak
 * it and never see it.
 */
export const MESSAGE_PROTOCOL = "/p2p/msg/1.0.0";

/**
 * Version byte that starts every frame.
 */
export const FRAME_VERSION = 1;

/**
 * Domain-separation label that starts every signed byte string, so a message signature can
 * never be mistaken for a signature of anything else the key signs (noise, gossipsub).
 */
export const SIGNATURE_DOMAIN = "p2p/msg/1.0.0 signature";

/**
 * Largest frame accepted or sent by default (1 MiB), enforced from the length prefix before
 * the frame is buffered.
 */
export const DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024;

/**
 * How old (or how far in the future) a message timestamp may be by default: 30 s. Nonces are
 * remembered for this long, so a replay inside the window is caught by the nonce and one
 * outside it by the timestamp.
 */
export const DEFAULT_MAX_MESSAGE_AGE_MS = 30_000;

/**
 * Nonces remembered at most by the replay cache (about 10 MB at worst).
 */
export const DEFAULT_REPLAY_CACHE_SIZE = 100_000;

/**
 * Default bound on one request attempt, from opening the stream to the answer.
 */
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;

/**
 * Default number of retries of a request after a transient failure (unreachable peer, time
 * out, rate limited).
 */
export const DEFAULT_REQUEST_RETRIES = 2;

/**
 * First delay between two request attempts; it doubles each retry (with jitter).
 */
export const RETRY_BASE_DELAY_MS = 200;

/**
 * Longest delay between two request attempts.
 */
export const RETRY_MAX_DELAY_MS = 5_000;

/**
 * Bound on reading an inbound frame: a peer that opens a stream and stalls loses it.
 */
export const INBOUND_READ_TIMEOUT_MS = 10_000;

/**
 * Bound on a handler's answer to a request before the peer is told it failed.
 */
export const HANDLER_TIMEOUT_MS = 30_000;

/**
 * Concurrent message streams allowed per connection and direction (libp2p defaults are 32
 * inbound and 64 outbound, and it resets the excess silently).
 */
export const MAX_MESSAGE_STREAMS = 1024;

/**
 * Default per-peer rate limit on incoming messages: bursts of 100, 50 per second sustained.
 */
export const DEFAULT_PEER_RATE_LIMIT: { readonly burst: number; readonly perSecond: number } = {
  burst: 100,
  perSecond: 50,
};

/**
 * Default global rate limit on incoming messages, all peers together.
 */
export const DEFAULT_GLOBAL_RATE_LIMIT: { readonly burst: number; readonly perSecond: number } = {
  burst: 1000,
  perSecond: 500,
};

/**
 * Peers whose rate-limit buckets are remembered at most; the least recently seen go first.
 */
export const MAX_RATE_LIMITED_PEERS = 10_000;

/**
 * Ledger bucket of member records written by `advertise()` (prefixed with `ID_` when a
 * network ID is set). Go nodes ignore buckets they do not know.
 */
export const MEMBERS_BUCKET = "p2p_members";

/**
 * How often the advertised member record is refreshed (its addresses and `updatedAt`).
 */
export const ADVERTISE_INTERVAL_MS = 30_000;

/**
 * A peer counts as "recently useful" (worth redialing) for this long after it last answered a
 * message or a heartbeat.
 */
export const USEFUL_PEER_TTL_MS = 10 * 60_000;

/**
 * Request latencies kept for the percentiles of `stats()` (the most recent ones).
 */
export const LATENCY_SAMPLES = 1024;

/**
 * How long `connect()` waits for the new connection to be identified (or closed by the peer's
 * gate) before it reports success.
 */
export const CONNECT_SETTLE_MS = 3_000;
