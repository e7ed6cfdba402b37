import type { Address } from "@libp2p/interface";
import {
  circuitRelayAddressesLast,
  isLoopback,
  isPrivate,
  publicAddressesFirst,
  reliableTransportsFirst,
} from "@libp2p/utils";
import type { Multiaddr } from "@multiformats/multiaddr";
import { isCircuit } from "./reachability.ts";

function ip4Prefix(ma: Multiaddr): string | undefined {
  const first = ma.getComponents()[0];
  return first?.name === "ip4" ? first.value?.split(".").slice(0, 3).join(".") : undefined;
}

/**
 * The order in which a peer's addresses are dialed (libp2p dials them one after the other):
 * addresses on our own networks (loopback, a LAN we are on), then public ones, then relayed
 * ones, and last private addresses of other networks. A peer behind another NAT advertises its
 * LAN address, which from here is silently dropped: tried before its relayed address, it took
 * the whole dial timeout and the relayed address was never tried.
 *
 * @param ownAddresses This node's own addresses (their /24 networks count as ours).
 * @returns A comparator for `connectionManager.addressSorter`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { multiaddr } from "@multiformats/multiaddr";
 * import { dialOrder } from "./address_order.ts";
 *
 * const order = dialOrder(() => ["/ip4/10.2.0.2/tcp/4001"]);
 * const addrs = [
 *   "/ip4/10.1.0.2/tcp/4001",
 *   "/ip4/11.0.0.1/tcp/4001/p2p/12D3KooWQwvXYJTgtWbv5JMiXCWuxTTKhsxCRAoBD5H5r4X7at8f/p2p-circuit",
 *   "/ip4/10.2.0.9/tcp/4001",
 * ].map((a) => ({ multiaddr: multiaddr(a), isCertified: false }));
 * assert.deepEqual(addrs.sort(order).map((a) => a.multiaddr.toString().slice(0, 14)), [
 *   "/ip4/10.2.0.9/", "/ip4/11.0.0.1/", "/ip4/10.1.0.2/",
 * ]);
 * ```
 */
export function dialOrder(ownAddresses: () => string[]): (a: Address, b: Address) => -1 | 0 | 1 {
  return (a, b) => {
    const own = new Set<string>();
    for (const text of ownAddresses()) {
      const prefix = text.match(/^\/ip4\/(\d+\.\d+\.\d+)\./)?.[1];
      if (prefix !== undefined) own.add(prefix);
    }
    const rank = (ma: Multiaddr): number => {
      if (isCircuit(ma)) return 2;
      try {
        if (isLoopback(ma)) return 0;
        if (!isPrivate(ma)) return 1;
      } catch {
        return 1; // a DNS name
      }
      const prefix = ip4Prefix(ma);
      return prefix !== undefined && own.has(prefix) ? 0 : 3;
    };
    return Math.sign(rank(a.multiaddr) - rank(b.multiaddr)) as -1 | 0 | 1 ||
      publicAddressesFirst(a.multiaddr, b.multiaddr) ||
      circuitRelayAddressesLast(a.multiaddr, b.multiaddr) ||
      reliableTransportsFirst(a.multiaddr, b.multiaddr);
  };
}
