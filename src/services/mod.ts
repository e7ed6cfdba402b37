/**
 * Services and workers over the network: the stream ↔ TCP bridge, `expose`/`connect`
 * tunnels on `/edgevpn/service/0.1`, worker registration in LocalAI's pools, the pool view
 * with fast liveness, and one local tunnel per online worker (`discover`).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { defaultWorkerName } from "./worker.ts";
 * import { poolBucket } from "./records.ts";
 *
 * assert.equal(poolBucket("worker", "team"), "team_worker");
 * assert.match(defaultWorkerName("host", "127.0.0.1:8080"), /^[a-zA-Z]{10}$/);
 * ```
 *
 * @module
 */

export * from "./bridge.ts";
export * from "./connect.ts";
export * from "./constants.ts";
export * from "./discover.ts";
export * from "./expose.ts";
export * from "./pool.ts";
export * from "./pool_views.ts";
export * from "./records.ts";
export * from "./repeated_warning.ts";
export * from "./stats.ts";
export * from "./target.ts";
export * from "./tunnel.ts";
export * from "./users.ts";
export * from "./worker.ts";
