/**
 * The libp2p node of p2p: TCP + noise + yamux, identify, ping, Kademlia DHT rendezvous on
 * the token's rotating namespace, mDNS with the token's tag, bootstrap peers and gossipsub,
 * assembled from one options object; persisted identities; the Deno runtime shims.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { createLibp2pNode } from "./create_node.ts";
 * import { generateTokenConfig } from "../token/token.ts";
 *
 * const node = await createLibp2pNode({
 *   token: generateTokenConfig(),
 *   listen: ["/ip4/127.0.0.1/tcp/0"],
 *   bootstrapPeers: [],
 *   mdns: false,
 * });
 * await node.start();
 * try {
 *   assert.ok(node.peerId.toString().startsWith("12D3KooW"));
 * } finally {
 *   await node.stop();
 * }
 * ```
 *
 * @module
 */

export * from "./constants.ts";
export * from "./create_node.ts";
export * from "./deno_tcp.ts";
export * from "./tuning.ts";
export * from "./identity.ts";
export * from "./rendezvous.ts";
export * from "./auto_dial.ts";
export * from "./backoff.ts";
export * from "./member_proof.ts";
export * from "./membership.ts";
export * from "./liveness.ts";
export * from "./byte_budget.ts";
export * from "./guarded_stream.ts";
export * from "./peer_guard.ts";
export * from "./pending_per_host.ts";
export * from "./silent_connections.ts";
export * from "./version.ts";
export * from "./nat.ts";
export * from "./reachability.ts";
export * from "./relay_server.ts";
export * from "./relay_client.ts";
export * from "./autonat_limits.ts";
export * from "./address_order.ts";
export * from "./address_set.ts";
export * from "./reuse_limited.ts";
export * from "./hole_punch.ts";
export * from "./hole_punch_message.ts";
export * from "./reuse_port.ts";
