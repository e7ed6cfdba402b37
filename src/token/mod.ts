/**
 * The network token layer, wire-compatible with edgevpn v0.34 and LocalAI: generate, encode and
 * decode tokens, derive the rotating DHT rendezvous, gossip topics and seal key, and seal gossip
 * messages. Pure: no IO.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeToken, generateToken } from "@p2p/p2p";
 * import { seal, unseal } from "./seal.ts";
 * import { sealKeyAt } from "./derive.ts";
 *
 * const token = decodeToken(generateToken());
 * const key = sealKeyAt(token, 1700000000);
 * const sealed = seal(key, new TextEncoder().encode("hello"));
 * assert.equal(new TextDecoder().decode(unseal(key, sealed)), "hello");
 * ```
 *
 * @module
 */

export * from "./errors.ts";
export * from "./token.ts";
export * from "./derive.ts";
export * from "./seal.ts";
