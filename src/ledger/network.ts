import { getLogger } from "@logtape/logtape";
import type { PeerId } from "@libp2p/interface";
import {
  createLibp2pNode,
  gossipLimit,
  type NodeOptions,
  type P2PLibp2p,
} from "../node/create_node.ts";
import { fingerprint } from "../token/derive.ts";
import { encodeToken } from "../token/token.ts";
import { HEALTHCHECK_BUCKET, HEALTHCHECK_INTERVAL_MS } from "./constants.ts";
import { LedgerHub } from "./hub.ts";
import { Ledger } from "./ledger.ts";

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
  const node = await createLibp2pNode(options);
  const hub = new LedgerHub({
    pubsub: node.services.pubsub,
    token: options.token,
    maxMessageBytes: gossipLimit(options.token),
    // Go peers publish blocks up to the token's limit, above what we can send: accept them.
    maxInboundMessageBytes: options.token.maxMessageSize,
    now,
  });
  const ledger = new Ledger({
    channel: hub,
    now,
    ...(options.syncIntervalMs === undefined ? {} : { syncIntervalMs: options.syncIntervalMs }),
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
  let stopping: Promise<void> | undefined;
  return {
    node,
    ledger,
    hub,
    peerId: node.peerId,
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
