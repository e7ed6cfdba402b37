/**
 * UPnP / NAT-PMP port mapping that maps as soon as the node's addresses settle.
 *
 * `@libp2p/upnp-nat` 4.0.28 maps the listen ports 5 s after the gateway answered or the
 * node's addresses last changed (a fixed debounce): a node behind a home router advertised
 * its mapped address 8.2–8.4 s after start, 7.9 s of it waiting. This keeps the service
 * and swaps that debounce for one of {@linkcode ADDRESS_SETTLE_MS}, the delay the rest of
 * the node uses to take a burst of address changes as one.
 *
 * @module
 */
import { type UPnPNAT, uPnPNAT, type UPnPNATComponents, type UPnPNATInit } from "@libp2p/upnp-nat";
import { debounce } from "@libp2p/utils";
import { ADDRESS_SETTLE_MS } from "./constants.ts";

/** The parts of upnp-nat's service this module replaces (a field and a method of its class). */
interface MapperInternals {
  mapIpAddressesDebounced?: unknown;
  mapIpAddresses?: unknown;
}

/**
 * `uPnPNAT(init)` whose mapping runs `settleMs` after the gateway answered or the node's
 * addresses last changed, instead of 5 s.
 *
 * The service is upnp-nat's own; only its debounced trigger is replaced, before the service
 * starts (which is when it subscribes the trigger). Should a later upnp-nat lay its class out
 * differently, the service is returned unchanged (mapping 5 s late, still mapping).
 *
 * @param init upnp-nat's options.
 * @param settleMs Wait after the last trigger before mapping.
 * @returns A libp2p service factory.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { promptUPnPNAT } from "./upnp.ts";
 *
 * const services = { upnp: promptUPnPNAT({ autoConfirmAddress: true }) };
 * assert.equal(typeof services.upnp, "function");
 * ```
 */
export function promptUPnPNAT(
  init: UPnPNATInit,
  settleMs: number = ADDRESS_SETTLE_MS,
): (components: UPnPNATComponents) => UPnPNAT {
  const create = uPnPNAT(init);
  return (components) => {
    const service = create(components);
    const internals = service as unknown as MapperInternals;
    if (
      typeof internals.mapIpAddressesDebounced !== "function" ||
      typeof internals.mapIpAddresses !== "function"
    ) {
      return service;
    }
    // upnp-nat's mapIpAddresses catches and logs its own errors.
    internals.mapIpAddressesDebounced = debounce(
      () => (service as unknown as { mapIpAddresses(): Promise<void> }).mapIpAddresses(),
      settleMs,
    );
    return service;
  };
}
