/**
 * Upper bound between two full-block rebroadcasts (edgevpn `Syncronizer`, 10 s in LocalAI).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { SYNC_INTERVAL_MS } from "@p2p/p2p/ledger";
 *
 * assert.equal(SYNC_INTERVAL_MS, 10_000);
 * ```
 */
export const SYNC_INTERVAL_MS = 10_000;
/**
 * A newly seen subscriber gets the whole block after this debounce instead of waiting a tick.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { NEW_PEER_SYNC_DELAY_MS, SYNC_INTERVAL_MS } from "@p2p/p2p/ledger";
 *
 * // A newcomer hears the block well before the next periodic rebroadcast.
 * assert.ok(NEW_PEER_SYNC_DELAY_MS < SYNC_INTERVAL_MS);
 * ```
 */
export const NEW_PEER_SYNC_DELAY_MS = 150;
/**
 * How often the hub recomputes its topics (edgevpn: 1 s).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { ROTATION_GRACE_S, TOPIC_CHECK_INTERVAL_MS } from "@p2p/p2p/ledger";
 *
 * assert.equal(TOPIC_CHECK_INTERVAL_MS, 1_000);
 * // Checked many times within the grace window around a rotation.
 * assert.ok(TOPIC_CHECK_INTERVAL_MS < ROTATION_GRACE_S * 1000);
 * ```
 */
export const TOPIC_CHECK_INTERVAL_MS = 1_000;
/**
 * How long around a rotation boundary the previous and the next topic and key stay in use:
 * covers publishes near the boundary and peers whose clock is this far off.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { ROTATION_GRACE_S } from "@p2p/p2p/ledger";
 * import { generateTokenConfig } from "@p2p/p2p/token";
 *
 * // A small fraction of the default rotation period of the gossip topic and seal key.
 * assert.ok(ROTATION_GRACE_S * 2 < generateTokenConfig().otp.crypto.interval);
 * ```
 */
export const ROTATION_GRACE_S = 15;
/**
 * Bound on a gunzipped block: a gzip bomb stops here.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { MAX_BLOCK_BYTES } from "@p2p/p2p/ledger";
 * import { TOKEN_MAX_MESSAGE_SIZE } from "@p2p/p2p/token";
 *
 * assert.equal(MAX_BLOCK_BYTES, 64 * 1024 * 1024);
 * // Room for a block that compresses well into the largest gossip message.
 * assert.ok(MAX_BLOCK_BYTES > TOKEN_MAX_MESSAGE_SIZE);
 * ```
 */
export const MAX_BLOCK_BYTES = 64 * 1024 * 1024;
/**
 * Bucket of the liveness heartbeat every node writes (edgevpn `services.Alive`).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { HEALTHCHECK_BUCKET } from "@p2p/p2p/ledger";
 *
 * assert.equal(HEALTHCHECK_BUCKET, "healthcheck");
 * ```
 */
export const HEALTHCHECK_BUCKET = "healthcheck";
/**
 * Heartbeat period of the `healthcheck` bucket.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { HEALTHCHECK_INTERVAL_MS } from "@p2p/p2p/ledger";
 *
 * assert.equal(HEALTHCHECK_INTERVAL_MS, 30_000);
 * ```
 */
export const HEALTHCHECK_INTERVAL_MS = 30_000;
/**
 * A node's deletions are re-asserted for this long if a concurrent block brings the key back.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { SYNC_INTERVAL_MS, TOMBSTONE_TTL_MS } from "@p2p/p2p/ledger";
 *
 * assert.equal(TOMBSTONE_TTL_MS, 60_000);
 * // Outlives several rebroadcast rounds of the peers.
 * assert.ok(TOMBSTONE_TTL_MS >= 3 * SYNC_INTERVAL_MS);
 * ```
 */
export const TOMBSTONE_TTL_MS = 60_000;
/**
 * Least time between two immediate write-backs of one entry (see `Ledger` re-announce).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { REANNOUNCE_MIN_INTERVAL_MS, SYNC_INTERVAL_MS } from "@p2p/p2p/ledger";
 *
 * assert.equal(REANNOUNCE_MIN_INTERVAL_MS, 1_000);
 * assert.ok(REANNOUNCE_MIN_INTERVAL_MS < SYNC_INTERVAL_MS);
 * ```
 */
export const REANNOUNCE_MIN_INTERVAL_MS = 1_000;
/**
 * A sealed block inflates to at most this many times its gzip size (and at least to
 * {@linkcode MIN_INFLATE_BYTES}): ledger JSON compresses 5–10×, a gzip bomb 1,000×.
 */
export const MAX_INFLATE_RATIO = 32;
/** Every block may inflate to this size, whatever its gzip size. */
export const MIN_INFLATE_BYTES = 8 * 1024 * 1024;
/**
 * A signed entry is honoured over later unsigned or foreign ones for this long after it was
 * last seen, without a connection to its owner (see `EntryClaims`).
 */
export const CLAIM_TTL_MS = 60_000;
/** Signed entries `EntryClaims` remembers at most. */
export const MAX_CLAIMS = 4_096;
/** edgevpn's bucket of exposed services: name → `{PeerID, Name}`. */
export const SERVICES_BUCKET = "services";
/** edgevpn's bucket of consumers allowed to open service streams: peer ID → `{PeerID, Timestamp}`. */
export const USERS_BUCKET = "users";
