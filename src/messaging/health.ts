/**
 * Health of the connections to members: heartbeat pings with the round-trip time kept per
 * peer, closing connections that stop answering, and redialing lost bootstrap and recently
 * useful peers with exponential backoff.
 *
 * @module
 */

import type {
  AbortOptions,
  Connection,
  Libp2pEvents,
  PeerId,
  Startable,
  TypedEventTarget,
} from "@libp2p/interface";
import { peerIdFromString } from "@libp2p/peer-id";
import { type Multiaddr, multiaddr } from "@multiformats/multiaddr";
import { getLogger } from "@logtape/logtape";
import { backoffDelay } from "../node/backoff.ts";
import {
  DEFAULT_HEARTBEAT_INTERVAL_MS,
  MAX_MISSED_HEARTBEATS,
  PING_TIMEOUT_MS,
  RECONNECT_BASE_DELAY_MS,
  RECONNECT_MAX_DELAY_MS,
  USEFUL_PEER_TTL_MS,
} from "./constants.ts";

const log = getLogger(["p2p", "messaging", "health"]);

/** The parts of a libp2p node the health monitor uses. */
export interface HealthMonitorComponents {
  /** The node's events (`peer:connect`, `peer:disconnect`). */
  events: TypedEventTarget<Libp2pEvents>;
  /** Pings a peer (the ping service); resolves with the round-trip time in milliseconds. */
  ping(peer: PeerId | Multiaddr[], options: AbortOptions): Promise<number>;
  /** The open connections, to one peer or all. */
  getConnections(peerId?: PeerId): Connection[];
  /** Dials a peer. */
  dial(peer: PeerId | Multiaddr[], options: AbortOptions): Promise<Connection>;
  /** Closes every connection to a peer. */
  hangUp(peer: PeerId): Promise<void>;
}

/** Options of the {@linkcode healthMonitor} component. */
export interface HealthMonitorInit {
  /** Interval of heartbeat pings. @default {5000} */
  intervalMs?: number;
  /** Bound on one ping. @default {2000} */
  pingTimeoutMs?: number;
  /** Heartbeats in a row that may fail before the connection is closed. @default {3} */
  maxMissed?: number;
  /** Redial lost bootstrap and useful peers. @default {true} */
  reconnect?: boolean;
  /** First redial delay; it doubles on each failure. @default {500} */
  reconnectBaseMs?: number;
  /** Longest redial delay. @default {30000} */
  reconnectMaxMs?: number;
  /** Bootstrap multiaddrs (with `/p2p/<id>`): always redialed. */
  bootstrapPeers?: readonly string[];
  /** How long a peer stays worth redialing after it last answered. @default {600000} */
  usefulTtlMs?: number;
  /** Whether a connected peer gets heartbeats (the node: members and useful peers). */
  isWatched: (peerId: string) => boolean;
  /** Whether a peer is denied (never redialed). */
  isDenied: (peerId: string) => boolean;
  /** The clock, in milliseconds since the epoch. @default {Date.now} */
  now?: () => number;
}

/** What the monitor knows of one peer. */
export interface PeerHealth {
  /** Last round-trip time measured, in milliseconds. */
  rttMs?: number;
  /** When it was measured, in milliseconds since the epoch. */
  measuredAt?: number;
  /** Heartbeats missed in a row. */
  missed: number;
  /** When the peer last answered a message or a ping. */
  usefulAt?: number;
}

/** The running monitor: see {@linkcode healthMonitor}. */
export interface HealthMonitor extends Startable {
  /** The peer's health record, if any. */
  health(peerId: string): PeerHealth | undefined;
  /**
   * A round-trip time for the peer: the heartbeat's if recent, otherwise a ping now (dialing
   * `addresses` if not connected). `undefined` if the peer does not answer.
   */
  measure(peerId: string, addresses?: readonly string[]): Promise<number | undefined>;
  /** Records that the peer answered something (it becomes worth redialing). */
  markUseful(peerId: string): void;
  /** Runs one round of heartbeats now. */
  beat(): Promise<void>;
  /** Redials that succeeded. */
  readonly reconnects: number;
  /** Peers with a redial pending. */
  reconnecting(): string[];
}

class HealthMonitorService implements HealthMonitor {
  readonly [Symbol.toStringTag] = "@p2p/messaging-health";
  #c: HealthMonitorComponents;
  #init: HealthMonitorInit;
  #now: () => number;
  #intervalMs: number;
  #pingTimeoutMs: number;
  #peers = new Map<string, PeerHealth>();
  #bootstrap = new Map<string, Multiaddr[]>();
  #redials = new Map<string, { timer: ReturnType<typeof setTimeout>; attempt: number }>();
  #inFlight = new Set<string>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #started = false;
  #reconnects = 0;

  constructor(components: HealthMonitorComponents, init: HealthMonitorInit) {
    this.#c = components;
    this.#init = init;
    this.#now = init.now ?? Date.now;
    this.#intervalMs = init.intervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS;
    this.#pingTimeoutMs = init.pingTimeoutMs ?? PING_TIMEOUT_MS;
    for (const addr of init.bootstrapPeers ?? []) {
      const id = addr.split("/p2p/").at(-1);
      if (id === undefined || id === addr) continue;
      try {
        const key = peerIdFromString(id).toString();
        this.#bootstrap.set(key, [...(this.#bootstrap.get(key) ?? []), multiaddr(addr)]);
      } catch {
        // Not a valid bootstrap address: the node reports it when dialing.
      }
    }
  }

  get reconnects(): number {
    return this.#reconnects;
  }

  isStarted(): boolean {
    return this.#started;
  }

  start(): void {
    if (this.#started) return;
    this.#started = true;
    this.#c.events.addEventListener("peer:connect", this.#onConnect);
    this.#c.events.addEventListener("peer:disconnect", this.#onDisconnect);
    this.#timer = setInterval(() => void this.beat(), this.#intervalMs);
  }

  stop(): void {
    this.#started = false;
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#c.events.removeEventListener("peer:connect", this.#onConnect);
    this.#c.events.removeEventListener("peer:disconnect", this.#onDisconnect);
    for (const { timer } of this.#redials.values()) clearTimeout(timer);
    this.#redials.clear();
  }

  health(peerId: string): PeerHealth | undefined {
    const record = this.#peers.get(peerId);
    return record === undefined ? undefined : { ...record };
  }

  reconnecting(): string[] {
    return [...this.#redials.keys()];
  }

  markUseful(peerId: string): void {
    this.#record(peerId).usefulAt = this.#now();
  }

  async measure(peerId: string, addresses: readonly string[] = []): Promise<number | undefined> {
    const id = peerIdFromString(peerId);
    const connected = this.#c.getConnections(id).length > 0;
    const known = this.#peers.get(peerId);
    if (
      connected && known?.rttMs !== undefined && known.measuredAt !== undefined &&
      this.#now() - known.measuredAt <= 2 * this.#intervalMs
    ) {
      return known.rttMs;
    }
    const target = connected || addresses.length === 0 ? id : parseAddrs(addresses);
    return await this.#ping(peerId, target);
  }

  async beat(): Promise<void> {
    if (!this.#started) return;
    const peers = new Set(this.#c.getConnections().map((c) => c.remotePeer.toString()));
    await Promise.all([...peers].map(async (peerId) => {
      if (this.#inFlight.has(peerId) || !this.#watched(peerId)) return;
      this.#inFlight.add(peerId);
      try {
        const rtt = await this.#ping(peerId, peerIdFromString(peerId));
        const record = this.#record(peerId);
        if (rtt !== undefined) return void (record.missed = 0);
        record.missed++;
        if (record.missed >= (this.#init.maxMissed ?? MAX_MISSED_HEARTBEATS) && this.#started) {
          log.info("Closing the connection to {peerId}: {missed} heartbeats missed", {
            peerId,
            missed: record.missed,
          });
          record.missed = 0;
          await this.#c.hangUp(peerIdFromString(peerId)).catch(() => {});
        }
      } finally {
        this.#inFlight.delete(peerId);
      }
    }));
  }

  #watched(peerId: string): boolean {
    return this.#init.isWatched(peerId) || this.#isUseful(peerId) || this.#bootstrap.has(peerId);
  }

  #isUseful(peerId: string): boolean {
    const at = this.#peers.get(peerId)?.usefulAt;
    return at !== undefined && this.#now() - at <= (this.#init.usefulTtlMs ?? USEFUL_PEER_TTL_MS);
  }

  async #ping(peerId: string, target: PeerId | Multiaddr[]): Promise<number | undefined> {
    try {
      const rtt = await this.#c.ping(target, { signal: AbortSignal.timeout(this.#pingTimeoutMs) });
      const record = this.#record(peerId);
      record.rttMs = rtt;
      record.measuredAt = this.#now();
      record.usefulAt = record.measuredAt;
      return rtt;
    } catch (error) {
      log.debug("Ping of {peerId} failed: {error}", { peerId, error: String(error) });
      return undefined;
    }
  }

  #record(peerId: string): PeerHealth {
    let record = this.#peers.get(peerId);
    if (record === undefined) {
      record = { missed: 0 };
      this.#peers.set(peerId, record);
    }
    return record;
  }

  #onConnect = (event: CustomEvent<PeerId>): void => {
    const peerId = event.detail.toString();
    const pending = this.#redials.get(peerId);
    if (pending !== undefined) {
      clearTimeout(pending.timer);
      this.#redials.delete(peerId);
    }
  };

  #onDisconnect = (event: CustomEvent<PeerId>): void => {
    const peerId = event.detail.toString();
    const record = this.#peers.get(peerId);
    if (record !== undefined) record.missed = 0;
    if (this.#worthRedialing(peerId)) this.#scheduleRedial(peerId, 0);
  };

  #worthRedialing(peerId: string): boolean {
    return this.#started && (this.#init.reconnect ?? true) && !this.#init.isDenied(peerId) &&
      (this.#bootstrap.has(peerId) || this.#isUseful(peerId));
  }

  #scheduleRedial(peerId: string, attempt: number): void {
    if (this.#redials.has(peerId)) return;
    const delay = backoffDelay(attempt, {
      baseMs: this.#init.reconnectBaseMs ?? RECONNECT_BASE_DELAY_MS,
      maxMs: this.#init.reconnectMaxMs ?? RECONNECT_MAX_DELAY_MS,
    });
    const timer = setTimeout(() => {
      this.#redials.delete(peerId);
      void this.#redial(peerId, attempt);
    }, delay);
    this.#redials.set(peerId, { timer, attempt });
  }

  async #redial(peerId: string, attempt: number): Promise<void> {
    if (!this.#worthRedialing(peerId)) return;
    const id = peerIdFromString(peerId);
    if (this.#c.getConnections(id).length > 0) return;
    try {
      await this.#c.dial(this.#bootstrap.get(peerId) ?? id, {
        signal: AbortSignal.timeout(this.#pingTimeoutMs * 2),
      });
      this.#reconnects++;
      log.info("Reconnected to {peerId}", { peerId });
    } catch (error) {
      log.debug("Redial {attempt} of {peerId} failed: {error}", {
        attempt,
        peerId,
        error: String(error),
      });
      if (this.#worthRedialing(peerId) && this.#c.getConnections(id).length === 0) {
        this.#scheduleRedial(peerId, attempt + 1);
      }
    }
  }
}

function parseAddrs(addresses: readonly string[]): Multiaddr[] {
  const parsed: Multiaddr[] = [];
  for (const addr of addresses) {
    try {
      parsed.push(multiaddr(addr));
    } catch {
      // Skip addresses a member advertised that do not parse.
    }
  }
  return parsed;
}

/**
 * The health monitor as a component (in the style of libp2p's `thing(init)` factories):
 * heartbeat pings every `intervalMs` to connected peers it watches (members, useful and
 * bootstrap peers), RTT per peer, connections closed after `maxMissed` silent heartbeats,
 * and redials with backoff when a bootstrap or recently useful peer is lost.
 *
 * @param init Timings, bootstrap peers and the node's membership and deny checks.
 * @returns A factory taking the node's parts.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { healthMonitor } from "@p2p/p2p/messaging";
 * const factory = healthMonitor({ isWatched: () => true, isDenied: () => false });
 * assert.equal(typeof factory, "function");
 * ```
 */
export function healthMonitor(
  init: HealthMonitorInit,
): (components: HealthMonitorComponents) => HealthMonitor {
  return (components) => new HealthMonitorService(components, init);
}
