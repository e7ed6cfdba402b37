import { getLogger } from "@logtape/logtape";
import type { PeerId, PrivateKey } from "@libp2p/interface";
import { generateKeyPair } from "@libp2p/crypto/keys";
import { peerIdFromString } from "@libp2p/peer-id";
import type { Membership } from "../node/membership.ts";
import {
  createLibp2pNode,
  gossipLimit,
  type NodeOptions,
  type P2PLibp2p,
} from "../node/create_node.ts";
import { fingerprint } from "../token/derive.ts";
import { encodeToken, type NetworkToken } from "../token/token.ts";
import {
  HEALTHCHECK_BUCKET,
  HEALTHCHECK_INTERVAL_MS,
  MAX_CLAIMS,
  USERS_BUCKET,
} from "./constants.ts";
import { LedgerHub } from "./hub.ts";
import { Ledger } from "./ledger.ts";
import { EntryClaims } from "./claims.ts";
import { type PeerEntry, type Signed, signEntry } from "./signed_entry.ts";
import type { Block } from "./block.ts";

const log = getLogger(["p2p", "node"]);

/** Options of {@linkcode startNetwork}: the node's, plus ledger timings. */
export interface NetworkOptions extends NodeOptions {
  /** Upper bound between full-block rebroadcasts. @default {10000} */
  syncIntervalMs?: number;
  /** Write the `healthcheck` heartbeat. @default {true} */
  healthcheck?: boolean;
  /** Called with the node before it starts: register protocol handlers here. */
  beforeStart?: (node: P2PLibp2p) => void | Promise<void>;
}

/** A started node with its ledger: what every command and library program runs on. */
export interface Network {
  /** The started libp2p node. */
  readonly node: P2PLibp2p;
  /** The replicated ledger of the token's network. */
  readonly ledger: Ledger;
  /** The sealed gossip channel the ledger travels on. */
  readonly hub: LedgerHub;
  /** The node's peer ID. */
  readonly peerId: PeerId;
  /** The network token. */
  readonly token: NetworkToken;
  /** Who has proved to hold the token: only those are routed to or served. */
  readonly membership: Membership;
  /** The entries readers honour: signed entries win over unsigned or foreign ones. */
  readonly claims: EntryClaims;
  /**
   * Signs an entry about this node with its key (see {@linkcode signEntry}).
   *
   * @param bucket The bucket it goes to.
   * @param key Its key.
   * @param value The entry; `PeerID` is set to this node's ID.
   * @returns The entry with its `Signature`, ready for `ledger.put`.
   */
  sign<T extends object>(bucket: string, key: string, value: T): Promise<Signed<T & PeerEntry>>;
  /** When the node started, in milliseconds since the epoch. */
  readonly startedAt: number;
  /** The clock the node and ledger use. */
  readonly now: () => number;
  /** Stops the ledger, the heartbeat and the node. */
  stop(): Promise<void>;
}

/**
 * Assembles and starts a node, joins the sealed ledger of its token, and writes the
 * `healthcheck` heartbeat, as an edgevpn node does.
 *
 * @param options The token, the common flags, and ledger timings.
 * @returns The running network; call `stop()` when done.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { startNetwork } from "@p2p/p2p/ledger";
 * import { generateTokenConfig } from "@p2p/p2p/token";
 *
 * const net = await startNetwork({
 *   token: generateTokenConfig(),
 *   listen: ["/ip4/127.0.0.1/tcp/0"],
 *   bootstrapPeers: [],
 *   mdns: false,
 * });
 * try {
 *   await net.ledger.put("example", "greeting", { hello: "world" });
 *   assert.deepEqual(net.ledger.get("example", "greeting"), { hello: "world" });
 * } finally {
 *   await net.stop();
 * }
 * ```
 */
export async function startNetwork(options: NetworkOptions): Promise<Network> {
  const now = options.now ?? Date.now;
  // Held here (not only inside libp2p) to sign this node's own ledger entries.
  const privateKey: PrivateKey = options.privateKey ?? await generateKeyPair("Ed25519");
  const node = await createLibp2pNode({ ...options, privateKey });
  const hub = new LedgerHub({
    pubsub: node.services.pubsub,
    token: options.token,
    maxMessageBytes: gossipLimit(options.token),
    now,
  });
  const ledger = new Ledger({
    channel: hub,
    now,
    ...(options.syncIntervalMs === undefined ? {} : { syncIntervalMs: options.syncIntervalMs }),
  });
  hub.onReject((reason, from, via) => {
    // Strangers that send or relay junk are cut off; members only see it dropped.
    const guard = node.services.peerGuard;
    guard.punish(via, `invalid ledger message (${reason})`);
    if (from !== via) guard.punish(from, `invalid ledger message (${reason})`);
  });
  // A newly proved member gets the state at once (strangers were sent nothing).
  node.services.membership.addEventListener("member:proven", () => hub.peerJoined());
  hub.onBlock((block, from) => {
    if (from !== "" && namesItsSender(block, from)) node.services.membership.prove(from, "gossip");
  });
  await options.beforeStart?.(node);
  await node.start();
  hub.start();
  ledger.start();
  const heartbeat = options.healthcheck === false
    ? undefined
    : startHeartbeat(ledger, node.peerId.toString(), now);
  log.info("Node {peerId} started (token {token})", {
    peerId: node.peerId.toString(),
    token: fingerprint(encodeToken(options.token)),
  });
  const startedAt = now();
  const gone = new BoundedSet<string>(MAX_CLAIMS);
  node.addEventListener("peer:disconnect", (event) => gone.add(event.detail.toString()));
  node.addEventListener("peer:connect", (event) => gone.delete(event.detail.toString()));
  const claims = new EntryClaims({
    read: (bucket, key) => {
      const entries = ledger.storage[bucket];
      return entries !== undefined && Object.hasOwn(entries, key) ? entries[key] : undefined;
    },
    keys: (bucket) => Object.keys(ledger.storage[bucket] ?? {}),
    ownerState: (peer) =>
      isConnected(node, peer) ? "connected" : gone.has(peer) ? "gone" : "unknown",
    now,
  });
  const self = node.peerId.toString();
  let stopping: Promise<void> | undefined;
  return {
    node,
    ledger,
    hub,
    peerId: node.peerId,
    token: options.token,
    membership: node.services.membership,
    claims,
    sign: (bucket, key, value) => signEntry(privateKey, bucket, key, { ...value, PeerID: self }),
    startedAt,
    now,
    stop() {
      stopping ??= (async () => {
        clearInterval(heartbeat);
        ledger.stop();
        hub.stop();
        await node.stop();
      })();
      return stopping;
    },
  };
}

/**
 * Whether a block its sender signed names the sender as a node names itself: LocalAI and
 * edgevpn nodes cannot answer the membership challenge, but each writes `healthcheck/<its
 * ID>` every 30 s and a consumer `users/<its ID>`, sealed with the token. An outsider can
 * copy a member's sealed block and publish it under its own signature, but that block names
 * the member, not the outsider (and outsiders get no gossip to copy: see `gossipScoring`).
 */
function namesItsSender(block: Block, from: string): boolean {
  return [HEALTHCHECK_BUCKET, USERS_BUCKET].some((bucket) => {
    const entries = block.Storage[bucket];
    return entries !== undefined && Object.hasOwn(entries, from);
  });
}

/** A set that forgets its oldest members past `max`. */
class BoundedSet<T> {
  #items = new Set<T>();
  #max: number;
  constructor(max: number) {
    this.#max = max;
  }
  add(item: T): void {
    this.#items.delete(item);
    this.#items.add(item);
    if (this.#items.size > this.#max) this.#items.delete(this.#items.values().next().value!);
  }
  delete(item: T): void {
    this.#items.delete(item);
  }
  has(item: T): boolean {
    return this.#items.has(item);
  }
}

function isConnected(node: P2PLibp2p, peer: string): boolean {
  try {
    return node.getConnections(peerIdFromString(peer)).length > 0;
  } catch {
    return false;
  }
}

function startHeartbeat(
  ledger: Ledger,
  peerId: string,
  now: () => number,
): ReturnType<typeof setInterval> {
  const beat = (): void => {
    // Go writes time.RFC3339 in UTC: whole seconds.
    const stamp = new Date(now()).toISOString().replace(/\.\d+Z$/, "Z");
    ledger.put(HEALTHCHECK_BUCKET, peerId, stamp).catch(() => {});
  };
  beat();
  return setInterval(beat, HEALTHCHECK_INTERVAL_MS);
}
