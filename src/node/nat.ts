/**
 * The parts of a node that reach across NATs, assembled from {@linkcode NatOptions}: the
 * circuit relay transport and the members-only relay service, the relay client, AutoNAT (v1,
 * rate limited as edgevpn does), UPnP / NAT-PMP port mapping, WebSockets, and announced
 * addresses.
 *
 * @module
 */
import { circuitRelayTransport } from "@libp2p/circuit-relay-v2";
import { webSockets } from "@libp2p/websockets";
import { patientDials } from "./dial_bounds.ts";
import { multiaddr } from "@multiformats/multiaddr";
import { isLoopback } from "@libp2p/utils";
import { type AutoNATRateLimit, rateLimitedAutoNAT } from "./autonat_limits.ts";
import { memberRelayServer, type RelayLimits } from "./relay_server.ts";
import { relayClient } from "./relay_client.ts";
import { RELAY_DESIRED_RESERVATIONS } from "./constants.ts";
import { holePunch } from "./hole_punch.ts";
import { promptUPnPNAT } from "./upnp.ts";

/** How a node reaches and is reached across NATs (edgevpn's NAT and relay flags). */
export interface NatOptions {
  /** Addresses to advertise besides the verified ones (`--announce`), at once. */
  announce?: readonly string[];
  /** Serve as a circuit relay for members (`--relay-service`). @default {true} */
  relayService?: boolean;
  /** Limits of the relay service. @default {edgevpn's: 1 GiB, 30 min, 64 circuits, 1 h} */
  relayLimits?: RelayLimits;
  /** Relays to reserve on first (`--relay-peers`); without them, member relays are found. */
  relayPeers?: readonly string[];
  /** Relays to keep reservations on when not publicly reachable. @default {2} */
  relayReservations?: number;
  /**
   * Map the listen port on the router with UPnP / NAT-PMP (`--natmap`) and advertise the
   * mapped address. @default {true unless every listen address is loopback}
   */
  natmap?: boolean;
  /** Run AutoNAT: verify our public addresses, dial back others' (`--natservice`). @default {true} */
  natService?: boolean;
  /** AutoNAT service rate limits (`--nat-ratelimit*`); `false` for none. @default {10/10/60 s} */
  natRateLimit?: AutoNATRateLimit | false;
  /**
   * Upgrade relayed connections to direct ones by hole punching (DCUtR, `--holepunch`); TCP
   * dials then leave from the listen port. @default {true}
   */
  holepunch?: boolean;
}

/** What {@linkcode natParts} adds to `createLibp2p`'s options. */
export interface NatParts {
  /** Transports: circuit relay and WebSockets. */
  transports: unknown[];
  /** Services keyed by name: `relay`, `relayClient`, `autoNAT`, `upnp`, `holePunch`. */
  services: Record<string, unknown>;
  /** Addresses advertised besides the verified ones. */
  appendAnnounce: string[];
}

/**
 * The NAT traversal parts of a node.
 *
 * @param options The NAT options.
 * @param listen The node's listen addresses (UPnP is pointless on loopback only).
 * @returns Transports, services and announced addresses to add.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { natParts } from "./nat.ts";
 *
 * const parts = natParts({ relayService: false }, ["/ip4/127.0.0.1/tcp/0"]);
 * assert.deepEqual(Object.keys(parts.services).sort(), ["autoNAT", "holePunch", "relayClient"]);
 * ```
 */
export function natParts(options: NatOptions, listen: readonly string[]): NatParts {
  const services: Record<string, unknown> = {
    relayClient: relayClient({
      relays: options.relayPeers ?? [],
      desired: options.relayReservations ?? RELAY_DESIRED_RESERVATIONS,
    }),
  };
  if (options.relayService !== false) services.relay = memberRelayServer(options.relayLimits);
  if (options.natService !== false) {
    services.autoNAT = rateLimitedAutoNAT({}, options.natRateLimit ?? {});
  }
  if (options.holepunch !== false) services.holePunch = holePunch();
  if (options.natmap ?? !listen.every(isLoopbackAddress)) {
    services.upnp = promptUPnPNAT({ autoConfirmAddress: true, portMappingDescription: "p2p" });
  }
  return {
    transports: [
      // Several relays are asked in parallel; the store runs them one at a time by default.
      patientDials(
        circuitRelayTransport({ reservationConcurrency: RELAY_DESIRED_RESERVATIONS + 2 }),
      ),
      webSockets(),
    ],
    services,
    appendAnnounce: [...(options.announce ?? [])],
  };
}

function isLoopbackAddress(text: string): boolean {
  try {
    return isLoopback(multiaddr(text));
  } catch {
    return false;
  }
}
