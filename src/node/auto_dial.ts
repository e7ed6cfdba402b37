import type {
  ComponentLogger,
  Libp2pEvents,
  Logger,
  PeerInfo,
  Startable,
  TypedEventTarget,
} from "@libp2p/interface";
import type { ConnectionManager } from "@libp2p/interface-internal";

/** What the node gives the {@linkcode autoDial} component. */
export interface AutoDialComponents {
  /** The node's events, where `peer:discovery` arrives. */
  events: TypedEventTarget<Libp2pEvents>;
  /** Dials the discovered peers. */
  connectionManager: ConnectionManager;
  /** Where the component logs (`p2p:auto-dial`). */
  logger: ComponentLogger;
}

class AutoDial implements Startable {
  readonly [Symbol.toStringTag] = "@p2p/auto-dial";
  #components: AutoDialComponents;
  #log: Logger;
  #started = false;

  constructor(components: AutoDialComponents) {
    this.#components = components;
    this.#log = components.logger.forComponent("p2p:auto-dial");
  }

  isStarted(): boolean {
    return this.#started;
  }

  start(): void {
    this.#started = true;
    this.#components.events.addEventListener("peer:discovery", this.#onDiscovery);
  }

  stop(): void {
    this.#started = false;
    this.#components.events.removeEventListener("peer:discovery", this.#onDiscovery);
  }

  #onDiscovery = (event: CustomEvent<PeerInfo>): void => {
    const { id, multiaddrs } = event.detail;
    if (!this.#started || multiaddrs.length === 0) return;
    if (this.#components.connectionManager.getConnections(id).length > 0) return;
    this.#components.connectionManager.openConnection(id).catch((err) => {
      this.#log("could not dial discovered peer %p - %e", id, err);
    });
  };
}

/**
 * Dials every peer a discovery mechanism (mDNS) reports, as edgevpn's mDNS notifee does:
 * js-libp2p v3 only records discovered peers, it does not connect to them.
 *
 * @returns A libp2p service factory.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { autoDial } from "./auto_dial.ts";
 *
 * assert.equal(typeof autoDial(), "function");
 * ```
 */
export function autoDial(): (components: AutoDialComponents) => Startable {
  return (components) => new AutoDial(components);
}
