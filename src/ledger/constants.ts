/**
 * Upper bound between two full-block rebroadcasts (edgevpn `Syncronizer`, 10 s in LocalAI).
 */
export const SYNC_INTERVAL_MS = 10_000;
/**
 * A node that heard this many copies of its own current block since its last rebroadcast
 * skips the next one (Trickle, RFC 6206): in a settled network a few nodes rebroadcast per
 * interval instead of all of them. Two, so that one lost message does not silence a round.
 */
export const SYNC_QUIET_AFTER = 2;
/**
 * A newly seen subscriber gets the whole block after this debounce instead of waiting a tick
 * (plus a random share of the spread below; see `join_sync.ts`).
 */
export const NEW_PEER_SYNC_DELAY_MS = 150;
/**
 * The random part of the wait before a rebroadcast for a joining peer grows by this much per
 * peer on the topic: the first of the nodes that saw the join speaks about this long after the
 * debounce, and its copy usually reaches the others before their turn (a block crosses a
 * loaded loopback network in tens of milliseconds).
 */
export const JOIN_SYNC_SPREAD_PER_PEER_MS = 50;
/** Cap on that random part: a newcomer of a large network waits at most this much more. */
export const JOIN_SYNC_MAX_SPREAD_MS = 2_000;
/**
 * A peer grafted into this node's mesh of a ledger topic gets the whole block if a new block
 * passed within this long: gossipsub forwarded that block to the mesh before the peer was in
 * it, and the heartbeat that grafts a peer sends message IDs (IHAVE) only to peers outside the
 * mesh, so the peer would hear of it at the next rebroadcast (up to `SYNC_INTERVAL_MS`). Two
 * gossipsub heartbeats: IDs of older blocks reached the peer at an earlier heartbeat.
 */
export const GRAFT_SYNC_WINDOW_MS = 2_000;
/**
 * How often the hub recomputes its topics (edgevpn: 1 s).
 */
export const TOPIC_CHECK_INTERVAL_MS = 1_000;
/**
 * How long around a rotation boundary the previous and the next topic and key stay in use:
 * covers publishes near the boundary and peers whose clock is this far off.
 */
export const ROTATION_GRACE_S = 15;
/**
 * Bound on a gunzipped block: a gzip bomb stops here.
 */
export const MAX_BLOCK_BYTES = 64 * 1024 * 1024;
/**
 * Bucket of the liveness heartbeat every node writes (edgevpn `services.Alive`).
 */
export const HEALTHCHECK_BUCKET = "healthcheck";
/**
 * Heartbeat period of the `healthcheck` bucket.
 */
export const HEALTHCHECK_INTERVAL_MS = 30_000;
/**
 * A node's deletions are re-asserted for this long if a concurrent block brings the key back.
 */
export const TOMBSTONE_TTL_MS = 60_000;
/**
 * Least time between two immediate write-backs of one entry (see `Ledger` re-announce).
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
/** The protocol that sends the ledger block to one peer that joined (`block_delivery.ts`). */
export const BLOCK_DELIVERY_PROTOCOL = "/p2p/ledger-block/1.0.0";
/** Bound on one delivery, from opening the stream to its close. */
export const BLOCK_DELIVERY_TIMEOUT_MS = 10_000;
/** Concurrent deliveries per connection and direction (one per join turn; two turns may overlap). */
export const BLOCK_DELIVERY_MAX_STREAMS = 2;
