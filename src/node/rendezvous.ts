import type {
  ComponentLogger,
  ContentRouting,
  Libp2pEvents,
  Logger,
  PeerId,
  Startable,
  TypedEventTarget,
} from "@libp2p/interface";
import type { AddressManager, ConnectionManager } from "@libp2p/interface-internal";
import { CID } from "multiformats/cid";
import { multiaddr } from "@multiformats/multiaddr";
import { peerIdFromString } from "@libp2p/peer-id";
import { rendezvousAt, rendezvousCid } from "../token/derive.ts";
import type { NetworkToken } from "../token/token.ts";
import { addressSetKey } from "./address_set.ts";
import {
  ADDRESS_SETTLE_MS,
  RENDEZVOUS_INTERVAL_MS,
  RENDEZVOUS_MAX_PROVIDERS,
  RENDEZVOUS_STEP_TIMEOUT_MS,
} from "./constants.ts";
import { type ProvideRecord, RendezvousPacing } from "./rendezvous_pacing.ts";

/** Options of the {@linkcode rendezvous} component. */
export interface RendezvousInit {
  /** The network token; its `otp.dht` secret gives the rotating rendezvous namespace. */
  token: NetworkToken;
  /** Peers to keep dialing while not connected (multiaddrs ending in `/p2p/<id>`). */
  bootstrapPeers?: readonly string[];
  /** Use the DHT (provide and find the rendezvous CIDs). @default {true} */
  dht?: boolean;
  /** Upper bound between two cycles, in milliseconds. @default {10000} */
  intervalMs?: number;
  /** The clock, in milliseconds since the epoch. @default {Date.now} */
  now?: () => number;
}

/** What the node gives the {@linkcode rendezvous} component. */
export interface RendezvousComponents {
  /** Our own peer ID (a lookup finds our own record too). */
  peerId: PeerId;
  /** Our addresses: a provider record carries them, so a change is provided again. */
  addressManager: Pick<AddressManager, "getAddresses">;
  /**
   * The node's events, where `self:peer:update` says our addresses may have changed and
   * `peer:connect` ends a spell without connections.
   */
  events: TypedEventTarget<Libp2pEvents>;
  /** Provides and finds the rendezvous CIDs (the DHT). */
  contentRouting: ContentRouting;
  /** Dials bootstrap peers and providers. */
  connectionManager: ConnectionManager;
  /** Where the component logs (`p2p:rendezvous`). */
  logger: ComponentLogger;
  /**
   * The DHT service, when there is one: told to stop re-providing a CID that rotated out
   * (kad-dht keeps our own provider records, and re-provides them, until cancelled).
   */
  dht?: { cancelReprovide(key: CID): Promise<void> };
}

/** The result of one rendezvous cycle, for logs and tests. */
export interface RendezvousCycle {
  /** Rendezvous CIDs in use (current, previous). */
  cids: string[];
  /** CIDs whose providers this cycle looked up: none while lookups back off (see below). */
  searched: string[];
  /** Providers found that were not connected and were dialed successfully. */
  dialed: number;
  /** Providers found that were not connected and could not be dialed. */
  unreached: number;
  /** Providers found in total (excluding ourselves). */
  found: number;
  /** CIDs this cycle provided (a CID is provided again only when it may help: see below). */
  provided: string[];
}

/** A running rendezvous loop: see {@linkcode rendezvous}. */
export interface Rendezvous extends Startable {
  /** Runs one cycle now (the loop also runs one every interval). */
  runCycle(): Promise<RendezvousCycle>;
  /** Number of completed cycles. */
  readonly cycles: number;
}

class RendezvousService implements Rendezvous {
  readonly [Symbol.toStringTag] = "@p2p/rendezvous";
  #init: Required<Omit<RendezvousInit, "bootstrapPeers">> & { bootstrapPeers: readonly string[] };
  #components: RendezvousComponents;
  #log: Logger;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #running = false;
  #current: Promise<RendezvousCycle> | undefined;
  #abort = new AbortController();
  #cycles = 0;
  #pacing: RendezvousPacing;
  /** Our addresses changed during a cycle: run the next one soon, not after the interval. */
  #rerunSoon = false;

  constructor(components: RendezvousComponents, init: RendezvousInit) {
    this.#components = components;
    this.#log = components.logger.forComponent("p2p:rendezvous");
    this.#init = {
      token: init.token,
      bootstrapPeers: init.bootstrapPeers ?? [],
      dht: init.dht ?? true,
      intervalMs: init.intervalMs ?? RENDEZVOUS_INTERVAL_MS,
      now: init.now ?? Date.now,
    };
    this.#pacing = new RendezvousPacing({
      intervalMs: this.#init.intervalMs,
      hasBootstrapPeers: this.#init.bootstrapPeers.length > 0,
    });
  }

  get cycles(): number {
    return this.#cycles;
  }

  isStarted(): boolean {
    return this.#running;
  }

  start(): void {
    this.#running = true;
    this.#abort = new AbortController();
    this.#components.events.addEventListener("self:peer:update", this.#onSelfUpdate);
    this.#components.events.addEventListener("peer:connect", this.#onConnect);
  }

  afterStart(): void {
    this.#schedule(0);
  }

  async stop(): Promise<void> {
    this.#running = false;
    this.#components.events.removeEventListener("self:peer:update", this.#onSelfUpdate);
    this.#components.events.removeEventListener("peer:connect", this.#onConnect);
    this.#abort.abort();
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#current?.catch(() => {});
  }

  runCycle(): Promise<RendezvousCycle> {
    this.#current ??= this.#cycle().finally(() => {
      this.#current = undefined;
      this.#cycles++;
    });
    return this.#current;
  }

  /** The one timer of the loop: a new schedule replaces the pending one. */
  #schedule(delayMs: number): void {
    if (!this.#running) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.runCycle()
        .catch((err) => this.#log.error("rendezvous cycle failed - %e", err))
        .finally(() => {
          const soon = this.#rerunSoon;
          this.#rerunSoon = false;
          this.#schedule(soon ? ADDRESS_SETTLE_MS : this.#pacing.nextDelayMs());
        });
    }, delayMs);
  }

  /** A first connection after a cycle that had none: provide and look up with it soon. */
  #onConnect = (): void => {
    if (!this.#running || !this.#pacing.connected()) return;
    if (this.#current !== undefined) this.#rerunSoon = true;
    else this.#schedule(ADDRESS_SETTLE_MS);
  };

  /**
   * Peers that look us up dial the addresses of our provider record, and a node behind NAT
   * gets the one that works (its relay reservation, a UPnP mapping) after its first provide:
   * a change of addresses brings the next cycle forward, which provides again (see
   * {@linkcode RendezvousPacing.shouldProvide}). Changes come in bursts; the settle delay
   * takes them as one.
   */
  #onSelfUpdate = (): void => {
    if (!this.#running) return;
    const addresses = this.#addressKey();
    if (!this.#pacing.addressesChanged(addresses)) return;
    this.#log("our addresses changed, providing them again: %s", addresses);
    if (this.#current !== undefined) this.#rerunSoon = true;
    else this.#schedule(ADDRESS_SETTLE_MS);
  };

  async #cycle(): Promise<RendezvousCycle> {
    await this.#dialBootstrapPeers();
    const cids = this.#rendezvousCids();
    const alone = this.#pacing.startCycle(this.#connectionCount());
    if (!this.#init.dht || alone) {
      const inUse = this.#init.dht ? cids.map(String) : [];
      return { cids: inUse, searched: [], dialed: 0, unreached: 0, found: 0, provided: [] };
    }
    await this.#forgetRotatedOut(cids);
    const lookup = this.#pacing.lookupDue(this.#connectionCount());
    let found = 0;
    let dialed = 0;
    let unreached = 0;
    const provided: string[] = [];
    for (const cid of cids) {
      if (this.#shouldProvide(cid) && await this.#provide(cid)) provided.push(cid.toString());
      if (!lookup) continue;
      const providers = await this.#findProviders(cid);
      found += providers.length;
      const dials = await this.#dialAll(providers);
      dialed += dials.dialed;
      unreached += dials.failed;
    }
    if (lookup) this.#pacing.lookedUp(dialed + unreached, this.#connectionCount());
    const inUse = cids.map(String);
    const searched = lookup ? inUse : [];
    const cycle = { cids: inUse, searched, dialed, unreached, found, provided };
    this.#log("cycle %d: %o", this.#cycles, cycle);
    return cycle;
  }

  #shouldProvide(cid: CID): boolean {
    return this.#pacing.shouldProvide(cid.toString(), this.#provideRecord());
  }

  #provideRecord(): ProvideRecord {
    return {
      atMs: this.#init.now(),
      connections: this.#connectionCount(),
      addresses: this.#addressKey(),
    };
  }

  #addressKey(): string {
    return addressSetKey(this.#components.addressManager.getAddresses());
  }

  /** Stops kad-dht re-providing CIDs that are neither current nor previous any more. */
  async #forgetRotatedOut(inUse: CID[]): Promise<void> {
    for (const key of this.#pacing.forgetRotatedOut(inUse.map(String))) {
      try {
        await this.#components.dht?.cancelReprovide(CID.parse(key));
      } catch (err) {
        this.#log("cancel re-provide of %s failed - %e", key, err);
      }
    }
  }

  #connectionCount(): number {
    return this.#components.connectionManager.getConnections().length;
  }

  #rendezvousCids(): CID[] {
    const atS = this.#init.now() / 1000;
    const current = rendezvousAt(this.#init.token, atS);
    const previous = rendezvousAt(this.#init.token, atS - this.#init.token.otp.dht.interval);
    const namespaces = current === previous ? [current] : [current, previous];
    return namespaces.map((ns) => CID.parse(rendezvousCid(ns)));
  }

  /** Provides `cid`; whether it did (a failed provide is tried again next cycle). */
  async #provide(cid: CID): Promise<boolean> {
    const record = this.#provideRecord();
    try {
      await this.#components.contentRouting.provide(cid, { signal: this.#stepSignal() });
      this.#pacing.provided(cid.toString(), record);
      return true;
    } catch (err) {
      this.#log("provide %s failed - %e", cid, err);
      return false;
    }
  }

  async #findProviders(cid: CID): Promise<PeerId[]> {
    const peers: PeerId[] = [];
    try {
      const options = { signal: this.#stepSignal() };
      for await (const provider of this.#components.contentRouting.findProviders(cid, options)) {
        if (provider.id.equals(this.#components.peerId)) continue;
        if (!peers.some((p) => p.equals(provider.id))) peers.push(provider.id);
        if (peers.length >= RENDEZVOUS_MAX_PROVIDERS) break;
      }
    } catch (err) {
      this.#log("find providers of %s failed - %e", cid, err);
    }
    return peers;
  }

  /** Dials the providers not connected yet: how many dials succeeded and failed. */
  async #dialAll(peers: PeerId[]): Promise<{ dialed: number; failed: number }> {
    const connected = new Set(
      this.#components.connectionManager.getConnections().map((c) => c.remotePeer.toString()),
    );
    const targets = peers.filter((p) => !connected.has(p.toString()));
    const results = await Promise.allSettled(
      targets.map((p) =>
        this.#components.connectionManager.openConnection(p, { signal: this.#stepSignal() })
      ),
    );
    for (const [i, r] of results.entries()) {
      if (r.status === "rejected") {
        this.#log("dial of provider %p failed - %e", targets[i], r.reason);
      }
    }
    const dialed = results.filter((r) => r.status === "fulfilled").length;
    return { dialed, failed: results.length - dialed };
  }

  async #dialBootstrapPeers(): Promise<void> {
    const connected = new Set(
      this.#components.connectionManager.getConnections().map((c) => c.remotePeer.toString()),
    );
    const dials = this.#init.bootstrapPeers
      .filter((addr) => {
        const id = peerIdOf(addr);
        return id !== undefined && !connected.has(id);
      })
      .map((addr) =>
        this.#components.connectionManager.openConnection(multiaddr(addr), {
          signal: this.#stepSignal(),
        })
      );
    const results = await Promise.allSettled(dials);
    for (const r of results) {
      if (r.status === "rejected") this.#log("bootstrap dial failed - %e", r.reason);
    }
  }

  #stepSignal(): AbortSignal {
    return AbortSignal.any([this.#abort.signal, AbortSignal.timeout(RENDEZVOUS_STEP_TIMEOUT_MS)]);
  }
}

function peerIdOf(addr: string): string | undefined {
  const id = addr.split("/p2p/").at(-1);
  if (id === undefined || id === addr) return undefined;
  try {
    return peerIdFromString(id).toString();
  } catch {
    return undefined;
  }
}

/**
 * The rendezvous loop of edgevpn's DHT discovery, as a libp2p service: a first cycle when the
 * node has started, then one every `intervalMs`. Each cycle dials bootstrap peers that are
 * not connected, then provides the current and the previous rendezvous CIDs on the DHT (again
 * only when that may help), finds their providers and dials those not yet connected (less
 * often while that finds nobody new).
 *
 * @param init The token and loop options.
 * @returns A libp2p service factory.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { rendezvous } from "./rendezvous.ts";
 * import { generateTokenConfig } from "../token/token.ts";
 *
 * const factory = rendezvous({ token: generateTokenConfig(), dht: false });
 * assert.equal(typeof factory, "function");
 * ```
 */
export function rendezvous(
  init: RendezvousInit,
): (components: RendezvousComponents) => Rendezvous {
  return (components) => new RendezvousService(components, init);
}
