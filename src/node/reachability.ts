import type { AddressManager } from "@libp2p/interface-internal";
import { isLoopback, isPrivate } from "@libp2p/utils";
import type { Multiaddr } from "@multiformats/multiaddr";

/** Whether peers on the internet can dial this node directly. */
export type Reachability = "public" | "private" | "unknown";

/** Whether `ma` goes through a relay (`…/p2p-circuit…`). */
export function isCircuit(ma: Multiaddr): boolean {
  return ma.getComponents().some((c) => c.name === "p2p-circuit");
}

/** A direct address reachable from the internet: not private, loopback or relayed. */
export function isPublicDirect(ma: Multiaddr): boolean {
  try {
    return !isCircuit(ma) && !isPrivate(ma) && !isLoopback(ma);
  } catch {
    return false; // not an IP address (dns…)
  }
}

/**
 * What a node knows about how it is reached, from its address manager:
 * - `public`: a public address is verified (by AutoNAT, a UPnP mapping, an announcement,
 *   or because the node listens on it);
 * - `private`: no public address is verified, but peers saw it behind one (identify's
 *   observed address, not dialable) or it relies on a relay;
 * - `unknown`: neither (no peer has told it anything yet, or it only lives on a LAN).
 *
 * @param addresses The node's address manager.
 * @param relayed Whether the node holds a relay reservation.
 * @returns The reachability.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { multiaddr } from "@multiformats/multiaddr";
 * import { reachabilityOf } from "./reachability.ts";
 *
 * const address = (text: string, verified: boolean) => ({
 *   multiaddr: multiaddr(text), verified, expires: 0, type: "observed" as const,
 * });
 * const manager = (list: ReturnType<typeof address>[]) =>
 *   ({ getAddressesWithMetadata: () => list }) as never;
 * assert.equal(reachabilityOf(manager([address("/ip4/11.0.0.1/tcp/4001", true)]), false), "public");
 * assert.equal(reachabilityOf(manager([address("/ip4/11.0.0.9/tcp/4001", false)]), false), "private");
 * assert.equal(reachabilityOf(manager([address("/ip4/10.0.0.2/tcp/4001", true)]), false), "unknown");
 * ```
 */
export function reachabilityOf(
  addresses: Pick<AddressManager, "getAddressesWithMetadata">,
  relayed: boolean,
): Reachability {
  const all = addresses.getAddressesWithMetadata().filter((a) => isPublicDirect(a.multiaddr));
  if (all.some((a) => a.verified)) return "public";
  if (relayed || all.length > 0) return "private";
  return "unknown";
}

/** The node's announced addresses and those verified as dialable, as text. */
export function addressSummary(
  addresses: Pick<AddressManager, "getAddressesWithMetadata">,
): { announced: string[]; verified: string[] } {
  const all = addresses.getAddressesWithMetadata();
  return {
    announced: all.filter((a) => a.type === "announce").map((a) => a.multiaddr.toString()),
    verified: all.filter((a) => a.verified && !isCircuit(a.multiaddr))
      .map((a) => a.multiaddr.toString()),
  };
}
