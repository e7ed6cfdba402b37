/**
 * p2p: private peer-to-peer networks of services, wire-compatible with LocalAI and edgevpn.
 *
 * One token is the shared secret of a network. Nodes that hold it find each other (DHT
 * rendezvous, mDNS, bootstrap peers), share a sealed replicated ledger, expose local TCP
 * services to each other, and register workers in pools that a load balancer spreads
 * connections over.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeToken, generateToken, startNetwork } from "@p2p/p2p";
 *
 * const token = decodeToken(generateToken());
 * const network = await startNetwork({
 *   token,
 *   listen: ["/ip4/127.0.0.1/tcp/0"],
 *   bootstrapPeers: [],
 *   mdns: false,
 * });
 * try {
 *   await network.ledger.put("hello", "from", network.peerId.toString());
 *   assert.equal(network.ledger.get("hello", "from"), network.peerId.toString());
 * } finally {
 *   await network.stop();
 * }
 * ```
 *
 * @module
 */

export * from "./src/token/mod.ts";
export * from "./src/node/mod.ts";
export * from "./src/ledger/mod.ts";
export * from "./src/services/mod.ts";
export * from "./src/messaging/mod.ts";
