/**
 * The ledger of an edgevpn network: the block model and merge rule, the sealed gossip hub
 * with topic rotation, the replicated bucket → key → JSON map, and `startNetwork`, which runs
 * a node with its ledger.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { startNetwork } from "@p2p/p2p";
 * import { generateTokenConfig } from "../token/token.ts";
 *
 * const network = await startNetwork({
 *   token: generateTokenConfig(),
 *   listen: ["/ip4/127.0.0.1/tcp/0"],
 *   bootstrapPeers: [],
 *   mdns: false,
 * });
 * try {
 *   await network.ledger.put("settings", "color", "blue");
 *   assert.equal(network.ledger.get("settings", "color"), "blue");
 * } finally {
 *   await network.stop();
 * }
 * ```
 *
 * @module
 */

export * from "./block.ts";
export * from "./block_channel.ts";
export * from "./constants.ts";
export * from "./envelope.ts";
export * from "./errors.ts";
export * from "./hub.ts";
export * from "./ledger.ts";
export * from "./signed_entry.ts";
export * from "./claims.ts";
