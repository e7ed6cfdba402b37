/**
 * A node's addresses as one comparable key.
 *
 * @module
 */

/**
 * The same string for the same set of addresses in any order: what tells "our addresses
 * changed" (a relay reservation, a port mapping) from a `self:peer:update` that changed
 * something else (protocols) or only reordered them.
 *
 * @param addresses Multiaddrs (or their strings).
 * @returns The key.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { multiaddr } from "@multiformats/multiaddr";
 * import { addressSetKey } from "./address_set.ts";
 *
 * const lan = multiaddr("/ip4/192.168.1.2/tcp/4001");
 * const relayed = multiaddr("/ip4/11.0.0.1/tcp/4001/p2p-circuit");
 * assert.equal(addressSetKey([lan, relayed]), addressSetKey([relayed, lan]));
 * assert.notEqual(addressSetKey([lan]), addressSetKey([lan, relayed]));
 * ```
 */
export function addressSetKey(addresses: readonly { toString(): string }[]): string {
  return addresses.map(String).sort().join(" ");
}
