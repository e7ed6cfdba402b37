import type {
  ComponentLogger,
  Libp2pEvents,
  Logger,
  PeerId,
  PeerStore,
  Startable,
  TypedEventTarget,
} from "@libp2p/interface";
import { TypedEventEmitter } from "@libp2p/interface";
import type { ConnectionManager } from "@libp2p/interface-internal";
import type { Ping } from "@libp2p/ping";
import { peerIdFromString } from "@libp2p/peer-id";
import { type Multiaddr, multiaddr } from "@multiformats/multiaddr";
import { BackoffMap } from "./backoff.ts";
import { learnAddresses } from "./peer_addresses.ts";

/** Round trips remembered at most (the oldest is forgotten first). */
const MAX_RTT_ENTRIES = 4096;
import {
  LIVENESS_DIAL_BACKOFF_BASE_MS,
  LIVENESS_DIAL_BACKOFF_MAX_MS,
  LIVENESS_MAX_FAILED_PINGS,
  LIVENESS_PING_INTERVAL_MS,
  LIVENESS_PING_TIMEOUT_MS,
} from "./constants.ts";

/** Options of the {@linkcode liveness} component. */
export interface LivenessInit {
  /** Period of the pings to watched peers. @default {1000} */
  pingIntervalMs?: number;
  /** A ping slower than this fails. @default {1500} */
  pingTimeoutMs?: number;
  /** Failed pings in a row after which a connected peer counts as unreachable. @default {2} */
  maxFailedPings?: number;
  /** The clock, in milliseconds. @default {Date.now} */
  now?: () => number;
}

/** What the node gives the {@linkcode liveness} component. */
export interface LivenessComponents {
  /** `peer:connect` and `peer:disconnect` arrive here. */
  events: TypedEventTarget<Libp2pEvents>;
  /** Dials watched peers that are not connected. */
  connectionManager: ConnectionManager;
  /** Where the addresses a watcher vouches for are learned before a dial. */
  peerStore: PeerStore;
  /** The ping service. */
  ping: Ping;
  /** Where the component logs (`p2p:liveness`). */
  logger: ComponentLogger;
}

/** Events of a {@linkcode Liveness}. */
export interface LivenessEvents {
  /** A watched peer became reachable or unreachable (detail: its peer ID). */
  change: CustomEvent<string>;
}

interface PeerState {
  reachable: boolean;
  failedPings: number;
  probing: boolean;
  addresses: readonly string[];
  /** Set once a dial had to be made: a later success counts as a reconnection. */
  lost: boolean;
}

/** The last round trip measured to a peer. */
interface Rtt {
  ms: number;
  at: number;
}

/**
 * Whether the peers something relies on (pool workers, services) answer: one state per peer,
 * however many ledger entries name it. A watched peer is pinged every `pingIntervalMs` while
 * connected; it becomes unreachable at once when its last connection closes, and after
 * `maxFailedPings` failed pings; it is redialled (with exponential backoff after failures,
 * only at addresses a watcher vouches for or the peer announced itself) while disconnected.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { createLibp2pNode } from "./create_node.ts";
 * import { generateTokenConfig } from "../token/token.ts";
 *
 * const options = {
 *   token: generateTokenConfig(),
 *   listen: ["/ip4/127.0.0.1/tcp/0"],
 *   bootstrapPeers: [],
 *   mdns: false,
 * };
 * const a = await createLibp2pNode(options);
 * const b = await createLibp2pNode(options);
 * await a.start();
 * await b.start();
 * try {
 *   const owner = {};
 *   const peer = b.peerId.toString();
 *   const reachable = new Promise<void>((resolve) =>
 *     a.services.liveness.addEventListener("change", () => {
 *       if (a.services.liveness.isReachable(peer)) resolve();
 *     })
 *   );
 *   a.services.liveness.watch(owner, new Map([[peer, b.getMultiaddrs().map(String)]]));
 *   await reachable;
 *   a.services.liveness.watch(owner, new Map());
 * } finally {
 *   await a.stop();
 *   await b.stop();
 * }
 * ```
 */
export class Liveness extends TypedEventEmitter<LivenessEvents> implements Startable {
  readonly [Symbol.toStringTag] = "@p2p/liveness";
  #components: LivenessComponents;
  #init: Required<LivenessInit>;
  #log: Logger;
  #watchers = new Map<object, Map<string, readonly string[]>>();
  #peers = new Map<string, PeerState>();
  #dialBackoff: BackoffMap<string>;
  #rtts = new Map<string, Rtt>();
  #reconnects = 0;
  #timer: ReturnType<typeof setInterval> | undefined;

  /**
   * @param components The node's components.
   * @param init Timings.
   */
  constructor(components: LivenessComponents, init: LivenessInit = {}) {
    super();
    this.#components = components;
    this.#init = {
      pingIntervalMs: LIVENESS_PING_INTERVAL_MS,
      pingTimeoutMs: LIVENESS_PING_TIMEOUT_MS,
      maxFailedPings: LIVENESS_MAX_FAILED_PINGS,
      now: Date.now,
      ...init,
    };
    this.#dialBackoff = new BackoffMap({
      baseMs: LIVENESS_DIAL_BACKOFF_BASE_MS,
      maxMs: LIVENESS_DIAL_BACKOFF_MAX_MS,
    });
    this.#log = components.logger.forComponent("p2p:liveness");
  }

  /** Whether the component runs. */
  isStarted(): boolean {
    return this.#timer !== undefined;
  }

  /** Starts pinging and redialling watched peers. */
  start(): void {
    if (this.#timer !== undefined) return;
    this.#components.events.addEventListener("peer:connect", this.#onConnect);
    this.#components.events.addEventListener("peer:disconnect", this.#onDisconnect);
    this.#timer = setInterval(() => this.#tick(), this.#init.pingIntervalMs);
  }

  /** Stops. */
  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#components.events.removeEventListener("peer:connect", this.#onConnect);
    this.#components.events.removeEventListener("peer:disconnect", this.#onDisconnect);
  }

  /**
   * Sets the peers `owner` relies on (replacing its earlier set); each with the addresses
   * the owner vouches for (empty: only what the peer announced itself). A peer is watched
   * while any owner names it.
   *
   * @param owner Who watches (any object; one set per owner).
   * @param peers Peer ID → addresses.
   */
  watch(owner: object, peers: ReadonlyMap<string, readonly string[]>): void {
    if (peers.size === 0) this.#watchers.delete(owner);
    else this.#watchers.set(owner, new Map(peers));
    const wanted = new Map<string, string[]>();
    for (const set of this.#watchers.values()) {
      for (const [peer, addresses] of set) {
        wanted.set(peer, [...(wanted.get(peer) ?? []), ...addresses]);
      }
    }
    for (const peer of this.#peers.keys()) if (!wanted.has(peer)) this.#peers.delete(peer);
    for (const [peer, addresses] of wanted) {
      const state = this.#peers.get(peer);
      if (state !== undefined) {
        const changed = addresses.join(",") !== state.addresses.join(",");
        state.addresses = addresses;
        // New addresses (a relay reservation, a mapping) deserve a dial now, not after the
        // backoff earned by the old ones.
        if (changed && !state.reachable) {
          this.#dialBackoff.succeed(peer);
          this.#probe(peer);
        }
        continue;
      }
      this.#peers.set(peer, {
        reachable: false,
        failedPings: 0,
        probing: false,
        addresses,
        lost: false,
      });
      this.#probe(peer);
    }
  }

  /** Whether `peer` is watched and answers. */
  isReachable(peer: string): boolean {
    return this.#peers.get(peer)?.reachable ?? false;
  }

  /** The last round trip to `peer` (watched or measured), in ms. */
  rttMs(peer: string): number | undefined {
    return this.#rtts.get(peer)?.ms;
  }

  /** Watched peers this node lost and dialled back since start. */
  get reconnects(): number {
    return this.#reconnects;
  }

  /**
   * The round trip to `peer`: the last one when measured within two ping periods, else a ping
   * now (dialling `addresses` first when not connected).
   *
   * @returns Milliseconds, or `undefined` when it does not answer.
   */
  async measure(peer: string, addresses: readonly string[] = []): Promise<number | undefined> {
    const known = this.#rtts.get(peer);
    if (
      known !== undefined && this.isConnected(peer) &&
      this.#init.now() - known.at <= 2 * this.#init.pingIntervalMs
    ) {
      return known.ms;
    }
    const id = peerIdFromString(peer);
    const signal = AbortSignal.timeout(this.#init.pingTimeoutMs);
    try {
      if (!this.isConnected(peer)) {
        await learnAddresses(this.#components.peerStore, id, addresses);
        await this.#components.connectionManager.openConnection(id, { signal });
      }
      return this.#record(peer, await this.#components.ping.ping(id, { signal }));
    } catch {
      return undefined;
    }
  }

  #record(peer: string, ms: number): number {
    this.#rtts.delete(peer);
    this.#rtts.set(peer, { ms, at: this.#init.now() });
    if (this.#rtts.size > MAX_RTT_ENTRIES) this.#rtts.delete(this.#rtts.keys().next().value!);
    return ms;
  }

  /** Whether this node has an open connection to `peer`. */
  isConnected(peer: string): boolean {
    try {
      return this.#components.connectionManager.getConnections(peerIdFromString(peer)).length > 0;
    } catch {
      return false;
    }
  }

  #tick(): void {
    for (const peer of this.#peers.keys()) this.#probe(peer);
  }

  #probe(peer: string): void {
    const state = this.#peers.get(peer);
    if (state === undefined || state.probing) return;
    const connected = this.isConnected(peer);
    if (!connected && this.#dialBackoff.isHeld(peer, this.#init.now())) return;
    state.probing = true;
    this.#check(peer, state, connected).then((outcome) => {
      const before = state.reachable;
      state.failedPings = outcome === "ok" ? 0 : state.failedPings + 1;
      // A peer that cannot be dialled is gone; a slow ping on a live connection gets a
      // second chance before it counts as unreachable.
      state.reachable = outcome === "ok" ||
        (outcome === "ping-failed" && before && state.failedPings < this.#init.maxFailedPings);
      if (state.reachable !== before) this.safeDispatchEvent("change", { detail: peer });
    }).finally(() => {
      state.probing = false;
    });
  }

  async #check(
    peer: string,
    state: PeerState,
    connected: boolean,
  ): Promise<"ok" | "unreachable" | "ping-failed"> {
    const signal = AbortSignal.timeout(this.#init.pingTimeoutMs);
    const id = peerIdFromString(peer);
    if (!connected) {
      try {
        await learnAddresses(this.#components.peerStore, id, state.addresses);
        // The addresses the watcher vouches for are dialed as such: the peer store may hold
        // older ones only (identify replaces them, a relayed address comes and goes).
        const vouched = dialable(id, state.addresses);
        await this.#components.connectionManager.openConnection(
          vouched.length > 0 ? vouched : id,
          { signal },
        );
        this.#dialBackoff.succeed(peer);
        if (state.lost) this.#reconnects++;
        state.lost = false;
      } catch (err) {
        this.#dialBackoff.fail(peer, this.#init.now());
        this.#log("cannot dial %s - %e", peer, err);
        return "unreachable";
      }
    }
    try {
      this.#record(peer, await this.#components.ping.ping(id, { signal }));
      return "ok";
    } catch (err) {
      this.#log("%s did not answer a ping - %e", peer, err);
      return "ping-failed";
    }
  }

  #onConnect = (event: CustomEvent<PeerId>): void => {
    const peer = event.detail.toString();
    if (this.#peers.has(peer)) {
      this.#dialBackoff.succeed(peer);
      this.#probe(peer);
    }
  };

  #onDisconnect = (event: CustomEvent<PeerId>): void => {
    const peer = event.detail.toString();
    const state = this.#peers.get(peer);
    if (state === undefined) return;
    state.lost = true;
    if (!state.reachable) return;
    state.reachable = false;
    this.safeDispatchEvent("change", { detail: peer });
  };
}

/**
 * The liveness component: one reachability state per watched peer.
 *
 * @param init Timings.
 * @returns A libp2p service factory (register it as `liveness`).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { liveness } from "./liveness.ts";
 *
 * assert.equal(typeof liveness({ pingIntervalMs: 500 }), "function");
 * ```
 */
export function liveness(init: LivenessInit = {}): (components: LivenessComponents) => Liveness {
  return (components) => new Liveness(components, init);
}

/** `addresses` as multiaddrs ending in `/p2p/<peer>`, unparsable ones left out. */
function dialable(peer: PeerId, addresses: readonly string[]): Multiaddr[] {
  return addresses.flatMap((text) => {
    try {
      const ma = multiaddr(text);
      return [text.endsWith(`/p2p/${peer}`) ? ma : ma.encapsulate(`/p2p/${peer}`)];
    } catch {
      return [];
    }
  });
}
