/**
 * Messaging between the members of a p2p network, for programs: signed direct messages
 * (`send`, `request`, `handle`, `broadcast`) on `/p2p/msg/1.0.0`, topics sealed with the
 * network token (`publish`, `subscribe`), finding members by capability and latency
 * (`advertise`, `findPeers`), trust controls (gate, deny list, replay protection, rate and
 * size limits) and connection health (heartbeats, RTT, redials, `stats`). It runs on the
 * same node as the CLI, so a program and `p2p` commands can share a network.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { createNode, generateToken } from "@p2p/p2p";
 *
 * const token = generateToken();
 * const loopback = { listen: ["/ip4/127.0.0.1/tcp/0"], mdns: false, dht: false };
 * const server = createNode({ token, ...loopback, bootstrapPeers: [] });
 * server.handle("echo", ({ payload }) => payload);
 * await server.start();
 * const client = createNode({ token, ...loopback, bootstrapPeers: server.addresses() });
 * try {
 *   assert.deepEqual(await client.request(server.peerId, "echo", { hi: 1 }), { hi: 1 });
 * } finally {
 *   await client.stop();
 *   await server.stop();
 * }
 * ```
 *
 * @module
 */

export * from "./capabilities.ts";
export * from "./constants.ts";
export * from "./directory.ts";
export * from "./errors.ts";
export * from "./frame.ts";
export * from "./messaging.ts";
export * from "./options.ts";
export * from "./inbound_guard.ts";
export * from "./member_record.ts";
export * from "./node.ts";
export * from "./peer_query.ts";
export * from "./protocol.ts";
export * from "./protocol_types.ts";
export * from "./rate_limiter.ts";
export * from "./replay_cache.ts";
export * from "./signature.ts";
export * from "./stats.ts";
export * from "./token_bucket.ts";
export * from "./topics.ts";
export * from "./trust.ts";
