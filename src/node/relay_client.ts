import type {
  ComponentLogger,
  IdentifyResult,
  Libp2pEvents,
  Logger,
  PeerId,
  PeerStore,
  Startable,
  TypedEventTarget,
} from "@libp2p/interface";
import { TypedEventEmitter } from "@libp2p/interface";
import type {
  AddressManager,
  ConnectionManager,
  TransportManager,
} from "@libp2p/interface-internal";
import { peerIdFromString } from "@libp2p/peer-id";
import { type Multiaddr, multiaddr } from "@multiformats/multiaddr";
import { BackoffMap } from "./backoff.ts";
import {
  RELAY_CHECK_INTERVAL_MS,
  RELAY_DESIRED_RESERVATIONS,
  RELAY_HOP_PROTOCOL,
  RELAY_RESERVE_TIMEOUT_MS,
  RELAY_RETRY_BASE_MS,
  RELAY_RETRY_MAX_MS,
  RELAY_SETTLE_MS,
} from "./constants.ts";
import type { Membership } from "./membership.ts";
import {
  addressSummary,
  isPublicDirect,
  type Reachability,
  reachabilityOf,
} from "./reachability.ts";

/** Options of the {@linkcode relayClient} component. */
export interface RelayClientInit {
  /** Relays to use first (`--relay-peers`): multiaddrs ending in `/p2p/<id>`. */
  relays?: readonly string[];
  /** Relays to hold reservations on when not publicly reachable. @default {2} */
  desired?: number;
}

/** What the node gives the {@linkcode relayClient} component. */
export interface RelayClientComponents {
  peerId: PeerId;
  transportManager: TransportManager;
  connectionManager: ConnectionManager;
  addressManager: AddressManager;
  peerStore: PeerStore;
  events: TypedEventTarget<Libp2pEvents>;
  /** Relays are found among members only. */
  membership: Membership;
  logger: ComponentLogger;
}

/** A reservation held on a relay, as the API shows it. */
export interface ReservationView {
  /** The relay's peer ID. */
  relay: string;
  /** The relayed addresses peers dial us on (`<relay>/p2p-circuit/p2p/<us>`). */
  addresses: string[];
  /** When the reservation ends unless renewed (ISO 8601). */
  expires?: string;
}

/** Events of a {@linkcode RelayClient}. */
export interface RelayClientEvents {
  /** A reservation was made, renewed or lost. */
  change: CustomEvent<void>;
}

interface Reservation {
  addrs: Uint8Array[];
  expire: bigint;
}

/** circuit-relay-v2 4.2.13's transport reservation store (what this component drives). */
interface ReservationStore {
  addEventListener(type: string, listener: (event: CustomEvent<never>) => void): void;
  removeEventListener(type: string, listener: (event: CustomEvent<never>) => void): void;
  reservations: Map<unknown, unknown> & { size: number };
  hasReservation(peer: PeerId): boolean;
  addRelay(peer: PeerId, type: "configured"): Promise<unknown>;
  /** Relays that once failed to dial; never forgotten unless removed (see `#reserve`). */
  relayFilter?: { remove?(item: Uint8Array): boolean };
}

interface Candidate {
  id: string;
  addrs: Multiaddr[];
  static: boolean;
  /** When identify last described it (member relays only). */
  identifiedAt?: number;
}

/**
 * Keeps relay reservations while the node is not publicly reachable, like go-libp2p's
 * AutoRelay: on the `--relay-peers` first, then on members that run the relay service and
 * have a public address (learned by identify, the DHT or ledger records). It holds up to
 * `desired` reservations, makes a new one when a relay goes (with backoff per relay), and
 * advertises `<relay address>/p2p-circuit` for each, so identify, DHT provider records and
 * ledger records carry them.
 */
export class RelayClient extends TypedEventEmitter<RelayClientEvents> implements Startable {
  readonly [Symbol.toStringTag] = "@p2p/relay-client";
  #c: RelayClientComponents;
  #desired: number;
  #static: Candidate[];
  #members = new Map<string, Candidate>();
  #held = new Map<string, { view: ReservationView; addrs: Multiaddr[] }>();
  #backoff = new BackoffMap<string>({ baseMs: RELAY_RETRY_BASE_MS, maxMs: RELAY_RETRY_MAX_MS });
  #log: Logger;
  #timer: ReturnType<typeof setInterval> | undefined;
  #busy = false;
  #store: ReservationStore | undefined;

  constructor(components: RelayClientComponents, init: RelayClientInit) {
    super();
    this.#c = components;
    this.#desired = init.desired ?? RELAY_DESIRED_RESERVATIONS;
    this.#log = components.logger.forComponent("p2p:relay-client");
    this.#static = (init.relays ?? []).map((text) => {
      const ma = multiaddr(text);
      const id = ma.getComponents().findLast((c) => c.name === "p2p")?.value;
      if (id === undefined) throw new Error(`relay address ${text} has no /p2p/<peer id>`);
      return { id, addrs: [ma], static: true };
    });
  }

  isStarted(): boolean {
    return this.#timer !== undefined;
  }

  start(): void {
    this.#c.events.addEventListener("peer:identify", this.#onIdentify);
  }

  afterStart(): void {
    this.#store = this.#findStore();
    this.#store?.addEventListener("relay:created-reservation", this.#onReserved);
    this.#store?.addEventListener("relay:removed", this.#onRemoved);
    this.#timer = setInterval(() => this.#check(), RELAY_CHECK_INTERVAL_MS);
    this.#check();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#c.events.removeEventListener("peer:identify", this.#onIdentify);
    this.#store?.removeEventListener("relay:created-reservation", this.#onReserved);
    this.#store?.removeEventListener("relay:removed", this.#onRemoved);
  }

  /** The reservations held now. */
  reservations(): ReservationView[] {
    return [...this.#held.values()].map(({ view }) => view);
  }

  /** Whether peers on the internet can dial this node directly (see `reachabilityOf`). */
  reachability(): Reachability {
    return reachabilityOf(this.#c.addressManager, this.#held.size > 0);
  }

  /** The node's announced addresses and those verified as dialable. */
  addresses(): { announced: string[]; verified: string[] } {
    return addressSummary(this.#c.addressManager);
  }

  /** The relays this node would use, static ones first. */
  candidates(): string[] {
    return [...this.#static, ...this.#members.values()].map((c) => c.id);
  }

  #findStore(): ReservationStore | undefined {
    const transport = this.#c.transportManager.getTransports().find((t) =>
      (t as unknown as Record<symbol, unknown>)[Symbol.toStringTag] ===
        "@libp2p/circuit-relay-v2-transport"
    );
    return (transport as unknown as { reservationStore?: ReservationStore })?.reservationStore;
  }

  #onIdentify = (event: CustomEvent<IdentifyResult>): void => {
    const { peerId, protocols, listenAddrs } = event.detail;
    const id = peerId.toString();
    if (!protocols.includes(RELAY_HOP_PROTOCOL)) {
      this.#members.delete(id);
      return;
    }
    const addrs = listenAddrs.filter(isPublicDirect);
    if (addrs.length === 0) return;
    this.#members.set(id, { id, addrs, static: false, identifiedAt: Date.now() });
  };

  #check(): void {
    const store = this.#store;
    if (store === undefined || this.#busy || this.#held.size >= this.#desired) return;
    if (this.#static.length === 0 && this.reachability() === "public") return;
    const now = Date.now();
    const self = this.#c.peerId.toString();
    const next = [...this.#static, ...this.#members.values()].find((c) =>
      c.id !== self && !this.#held.has(c.id) && !this.#backoff.isHeld(c.id, now) &&
      (c.static || this.#c.membership.isMember(c.id)) &&
      // Right after we connect, AutoNAT on either side may dial back and close a second
      // connection; a reservation asked on that one dies with it.
      now - (c.identifiedAt ?? 0) >= RELAY_SETTLE_MS
    );
    if (next === undefined) return;
    this.#busy = true;
    this.#reserve(store, next).finally(() => {
      this.#busy = false;
    });
  }

  /**
   * Reserves through the transport's store directly, not with a `<relay>/p2p-circuit`
   * listener: a listener whose first reservation fails stays in the transport manager for
   * good, and closing one cancels every reservation. The relayed addresses are advertised by
   * `#onReserved` instead.
   */
  async #reserve(store: ReservationStore, candidate: Candidate): Promise<void> {
    const peer = peerIdFromString(candidate.id);
    try {
      await this.#c.peerStore.merge(peer, { multiaddrs: candidate.addrs });
      // The store never retries a relay it once failed to dial (a restarting relay): forget.
      store.relayFilter?.remove?.(peer.toMultihash().bytes);
      await withTimeout(store.addRelay(peer, "configured"), RELAY_RESERVE_TIMEOUT_MS);
      this.#backoff.succeed(candidate.id);
    } catch (err) {
      this.#backoff.fail(candidate.id, Date.now());
      this.#log("could not reserve on relay %s - %e", candidate.id, err);
    }
  }

  #onReserved = (
    event: CustomEvent<{ relay: PeerId; details: { reservation: Reservation } }>,
  ): void => {
    const { relay, details } = event.detail;
    const id = relay.toString();
    const addrs = details.reservation.addrs.map((bytes) =>
      multiaddr(bytes).encapsulate("/p2p-circuit")
    );
    const previous = this.#held.get(id)?.addrs ?? [];
    for (const ma of addrs) {
      // Observed (not transport) addresses: we have no circuit listener, see `#reserve`.
      this.#c.addressManager.addObservedAddr(ma);
      this.#c.addressManager.confirmObservedAddr(ma, { type: "observed" });
    }
    for (const ma of previous) {
      if (!addrs.some((a) => a.equals(ma))) this.#c.addressManager.removeObservedAddr(ma);
    }
    const self = this.#c.peerId.toString();
    this.#held.set(id, {
      addrs,
      view: {
        relay: id,
        addresses: addrs.map((ma) => `${ma.toString()}/p2p/${self}`),
        expires: new Date(Number(details.reservation.expire) * 1000).toISOString(),
      },
    });
    this.#log("reservation on relay %s", id);
    this.safeDispatchEvent("change");
  };

  #onRemoved = (event: CustomEvent<{ relay: PeerId }>): void => {
    const { relay } = event.detail;
    const id = relay.toString();
    const held = this.#held.get(id);
    if (held === undefined) return;
    for (const ma of held.addrs) this.#c.addressManager.removeObservedAddr(ma);
    this.#held.delete(id);
    this.#log("lost the reservation on relay %s", id);
    this.safeDispatchEvent("change");
    queueMicrotask(() => this.#check());
  };
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no reservation within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * The relay client component (see {@linkcode RelayClient}).
 *
 * @param init Static relays and how many reservations to keep.
 * @returns A libp2p service factory (register it as `relayClient`, after `membership`).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { relayClient } from "./relay_client.ts";
 *
 * assert.equal(typeof relayClient({ desired: 2 }), "function");
 * ```
 */
export function relayClient(
  init: RelayClientInit = {},
): (components: RelayClientComponents) => RelayClient {
  return (components) => new RelayClient(components, init);
}
