/**
 * Protocol IDs, limits and timings of the messaging layer.
 *
 * @module
 */

/**
 * Our direct-message protocol: one length-prefixed request frame per stream, answered by one
 * length-prefixed frame (an acknowledgement, a response or an error). Go peers do not speak
 * it and never see it.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { MESSAGE_PROTOCOL } from "@p2p/p2p/messaging";
 *
 * assert.equal(MESSAGE_PROTOCOL, "/p2p/msg/1.0.0");
 * ```
 */
export const MESSAGE_PROTOCOL = "/p2p/msg/1.0.0";

/**
 * Version byte that starts every frame.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { FRAME_VERSION } from "@p2p/p2p/messaging";
 *
 * assert.equal(FRAME_VERSION, 1);
 * ```
 */
export const FRAME_VERSION = 1;

/**
 * Domain-separation label that starts every signed byte string, so a message signature can
 * never be mistaken for a signature of anything else the key signs (noise, gossipsub).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { SIGNATURE_DOMAIN } from "@p2p/p2p/messaging";
 *
 * assert.equal(SIGNATURE_DOMAIN, "p2p/msg/1.0.0 signature");
 * ```
 */
export const SIGNATURE_DOMAIN = "p2p/msg/1.0.0 signature";

/**
 * Largest frame accepted or sent by default (1 MiB), enforced from the length prefix before
 * the frame is buffered.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_MAX_MESSAGE_BYTES } from "@p2p/p2p/messaging";
 *
 * assert.equal(DEFAULT_MAX_MESSAGE_BYTES, 1024 * 1024);
 * ```
 */
export const DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024;

/**
 * How old (or how far in the future) a message timestamp may be by default: 30 s. Nonces are
 * remembered for this long, so a replay inside the window is caught by the nonce and one
 * outside it by the timestamp.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_MAX_MESSAGE_AGE_MS } from "@p2p/p2p/messaging";
 *
 * assert.equal(DEFAULT_MAX_MESSAGE_AGE_MS, 30_000);
 * ```
 */
export const DEFAULT_MAX_MESSAGE_AGE_MS = 30_000;

/**
 * Nonces remembered at most by the replay cache (about 10 MB at worst).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_REPLAY_CACHE_SIZE } from "@p2p/p2p/messaging";
 *
 * assert.equal(DEFAULT_REPLAY_CACHE_SIZE, 100_000);
 * ```
 */
export const DEFAULT_REPLAY_CACHE_SIZE = 100_000;

/**
 * Default bound on one request attempt, from opening the stream to the answer.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_REQUEST_TIMEOUT_MS } from "@p2p/p2p/messaging";
 *
 * assert.equal(DEFAULT_REQUEST_TIMEOUT_MS, 10_000);
 * ```
 */
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;

/**
 * Default number of retries of a request after a transient failure (unreachable peer, time
 * out, rate limited).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_REQUEST_RETRIES } from "@p2p/p2p/messaging";
 *
 * assert.equal(DEFAULT_REQUEST_RETRIES, 2);
 * ```
 */
export const DEFAULT_REQUEST_RETRIES = 2;

/**
 * First delay between two request attempts; it doubles each retry (with jitter).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { RETRY_BASE_DELAY_MS } from "@p2p/p2p/messaging";
 *
 * assert.equal(RETRY_BASE_DELAY_MS, 200);
 * ```
 */
export const RETRY_BASE_DELAY_MS = 200;

/**
 * Longest delay between two request attempts.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { RETRY_MAX_DELAY_MS } from "@p2p/p2p/messaging";
 *
 * assert.equal(RETRY_MAX_DELAY_MS, 5_000);
 * ```
 */
export const RETRY_MAX_DELAY_MS = 5_000;

/**
 * Bound on reading an inbound frame: a peer that opens a stream and stalls loses it.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { INBOUND_READ_TIMEOUT_MS } from "@p2p/p2p/messaging";
 *
 * assert.equal(INBOUND_READ_TIMEOUT_MS, 10_000);
 * ```
 */
export const INBOUND_READ_TIMEOUT_MS = 10_000;

/**
 * Bound on a handler's answer to a request before the peer is told it failed.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { HANDLER_TIMEOUT_MS } from "@p2p/p2p/messaging";
 *
 * assert.equal(HANDLER_TIMEOUT_MS, 30_000);
 * ```
 */
export const HANDLER_TIMEOUT_MS = 30_000;

/**
 * Concurrent message streams allowed per connection and direction (libp2p defaults are 32
 * inbound and 64 outbound, and it resets the excess silently).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { MAX_MESSAGE_STREAMS } from "@p2p/p2p/messaging";
 *
 * assert.equal(MAX_MESSAGE_STREAMS, 1024);
 * ```
 */
export const MAX_MESSAGE_STREAMS = 1024;

/**
 * Default per-peer rate limit on incoming messages: bursts of 100, 50 per second sustained.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_PEER_RATE_LIMIT } from "@p2p/p2p/messaging";
 *
 * assert.deepEqual(DEFAULT_PEER_RATE_LIMIT, { burst: 100, perSecond: 50 });
 * ```
 */
export const DEFAULT_PEER_RATE_LIMIT: { readonly burst: number; readonly perSecond: number } = {
  burst: 100,
  perSecond: 50,
};

/**
 * Default global rate limit on incoming messages, all peers together.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_GLOBAL_RATE_LIMIT } from "@p2p/p2p/messaging";
 *
 * assert.deepEqual(DEFAULT_GLOBAL_RATE_LIMIT, { burst: 1000, perSecond: 500 });
 * ```
 */
export const DEFAULT_GLOBAL_RATE_LIMIT: { readonly burst: number; readonly perSecond: number } = {
  burst: 1000,
  perSecond: 500,
};

/**
 * Peers whose rate-limit buckets are remembered at most; the least recently seen go first.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { MAX_RATE_LIMITED_PEERS } from "@p2p/p2p/messaging";
 *
 * assert.equal(MAX_RATE_LIMITED_PEERS, 10_000);
 * ```
 */
export const MAX_RATE_LIMITED_PEERS = 10_000;

/**
 * Ledger bucket of member records written by `advertise()` (prefixed with `ID_` when a
 * network ID is set). Go nodes ignore buckets they do not know.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { MEMBERS_BUCKET } from "@p2p/p2p/messaging";
 *
 * assert.equal(MEMBERS_BUCKET, "p2p_members");
 * ```
 */
export const MEMBERS_BUCKET = "p2p_members";

/**
 * How often the advertised member record is refreshed (its addresses and `updatedAt`).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { ADVERTISE_INTERVAL_MS } from "@p2p/p2p/messaging";
 *
 * assert.equal(ADVERTISE_INTERVAL_MS, 30_000);
 * ```
 */
export const ADVERTISE_INTERVAL_MS = 30_000;

/**
 * A peer counts as "recently useful" (worth redialing) for this long after it last answered a
 * message or a heartbeat.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { USEFUL_PEER_TTL_MS } from "@p2p/p2p/messaging";
 *
 * assert.equal(USEFUL_PEER_TTL_MS, 10 * 60_000);
 * ```
 */
export const USEFUL_PEER_TTL_MS = 10 * 60_000;

/**
 * Request latencies kept for the percentiles of `stats()` (the most recent ones).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { LATENCY_SAMPLES } from "@p2p/p2p/messaging";
 *
 * assert.equal(LATENCY_SAMPLES, 1024);
 * ```
 */
export const LATENCY_SAMPLES = 1024;

/**
 * How long `connect()` waits for the new connection to be identified (or closed by the peer's
 * gate) before it reports success.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { CONNECT_SETTLE_MS } from "@p2p/p2p/messaging";
 *
 * assert.equal(CONNECT_SETTLE_MS, 3_000);
 * ```
 */
export const CONNECT_SETTLE_MS = 3_000;
