import type {
  ComponentLogger,
  Connection,
  ConnectionGater,
  Libp2pEvents,
  Logger,
  PeerId,
  Startable,
  Stream,
  TypedEventTarget,
} from "@libp2p/interface";
import type { ConnectionManager } from "@libp2p/interface-internal";
import type { GossipSub } from "@libp2p/gossipsub";
import { BackoffMap } from "./backoff.ts";
import { ByteBudget } from "./byte_budget.ts";
import {
  EVICTION_CHECK_INTERVAL_MS,
  MISBEHAVIOUR_HOLD_BASE_MS,
  MISBEHAVIOUR_HOLD_MAX_MS,
  PROOF_GRACE_MS,
  STRANGER_FRAME_BASE_MS,
  STRANGER_FRAME_BUDGET_BYTES,
  STRANGER_FRAME_MS_PER_MIB,
  STRANGER_FRAME_WAIT_MS,
  STRANGER_FRAMES_WAITING_MAX,
} from "./constants.ts";
import { type FrameViolation, GuardedStream } from "./guarded_stream.ts";
import type { Membership } from "./membership.ts";

/**
 * Peers held off after misbehaving: refused by the connection gater while held. Shared by
 * the gater (given to libp2p at creation) and the {@linkcode PeerGuard} (which holds peers).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { PeerHolds } from "./peer_guard.ts";
 *
 * const holds = new PeerHolds();
 * holds.hold("12D3KooWjunk", 0);
 * assert.equal(holds.isHeld("12D3KooWjunk", 1), true);
 * ```
 */
export class PeerHolds {
  #holds = new BackoffMap<string>({
    baseMs: MISBEHAVIOUR_HOLD_BASE_MS,
    maxMs: MISBEHAVIOUR_HOLD_MAX_MS,
  });

  /** Holds `peer` off (longer each time it misbehaves again). @returns Until when. */
  hold(peer: string, now: number): number {
    return this.#holds.fail(peer, now);
  }

  /** Whether `peer` is held off at `now`. */
  isHeld(peer: string, now: number): boolean {
    return this.#holds.isHeld(peer, now);
  }

  /** A libp2p connection gater that refuses held peers both ways. */
  gater(): ConnectionGater {
    const held = (peer: PeerId): boolean => this.isHeld(peer.toString(), Date.now());
    return {
      denyDialPeer: held,
      denyInboundEncryptedConnection: held,
      denyOutboundEncryptedConnection: held,
    };
  }
}

/** What a {@linkcode PeerGuard} did to strangers so far (see {@linkcode PeerGuard.stats}). */
export interface PeerGuardStats {
  evicted: number;
  punished: number;
  framesBusy: number;
  framesNoRoom: number;
}

/** Options of the {@linkcode peerGuard} component. */
export interface PeerGuardInit {
  /** Connections the node keeps; past it, peers that have not proved membership are closed. */
  maxConnections: number;
  /** The holds the node's connection gater checks. */
  holds: PeerHolds;
  /** Largest gossip frame accepted, in bytes (the token's `max_message_size` and framing). */
  maxFrameBytes: number;
  /** Node-wide bytes of gossip frames from non-members held at once. @default {32 MiB} */
  strangerBudgetBytes?: number;
}

/** What the node gives the {@linkcode peerGuard} component. */
export interface PeerGuardComponents {
  /** Open connections, closed when a stranger misbehaves or slots run short. */
  connectionManager: ConnectionManager;
  /** `connection:open` triggers an eviction check. */
  events: TypedEventTarget<Libp2pEvents>;
  /** Who has proved membership. */
  membership: Membership;
  /** The gossipsub service whose inbound frames are guarded. */
  pubsub: GossipSub;
  /** Where the component logs (`p2p:peer-guard`). */
  logger: ComponentLogger;
}

/**
 * Keeps strangers (peers that have not proved they hold the token) from exhausting a node:
 * - the memory their gossip frames may occupy is one node-wide budget, whatever their number
 *   (frames beyond it wait, with the sender paused, {@linkcode STRANGER_FRAMES_WAITING_MAX} at
 *   most: the next one's stream is reset; see {@linkcode GuardedStream});
 * - a stranger whose frame is oversize or too slow, or whose ledger message fails
 *   validation, is disconnected and held off (exponential backoff);
 * - when connections exceed `maxConnections`, strangers are closed first, oldest first,
 *   once they had {@linkcode PROOF_GRACE_MS} to prove themselves; members are never closed
 *   to make room.
 */
export class PeerGuard implements Startable {
  readonly [Symbol.toStringTag] = "@p2p/peer-guard";
  readonly budget: ByteBudget;
  #components: PeerGuardComponents;
  #init: PeerGuardInit;
  #log: Logger;
  #timer: ReturnType<typeof setInterval> | undefined;
  #evicted = 0;
  #punished = 0;
  #framesBusy = 0;
  #framesNoRoom = 0;

  /**
   * @param components The node's components.
   * @param init Limits and the shared holds.
   */
  constructor(components: PeerGuardComponents, init: PeerGuardInit) {
    this.#components = components;
    this.#init = init;
    this.budget = new ByteBudget(
      init.strangerBudgetBytes ?? STRANGER_FRAME_BUDGET_BYTES,
      STRANGER_FRAMES_WAITING_MAX,
    );
    this.#log = components.logger.forComponent("p2p:peer-guard");
  }

  /** Whether the component runs. */
  isStarted(): boolean {
    return this.#timer !== undefined;
  }

  /** Guards gossip streams and starts the eviction checks. */
  start(): void {
    if (this.#timer !== undefined) return;
    this.#guardGossip();
    this.#components.events.addEventListener("connection:open", this.#onOpen);
    this.#timer = setInterval(() => this.#evict(), EVICTION_CHECK_INTERVAL_MS);
  }

  /** Stops the checks. */
  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#components.events.removeEventListener("connection:open", this.#onOpen);
  }

  /**
   * Strangers closed to make room (`evicted`), disconnected and held off for misbehaving
   * (`punished`); their gossip streams reset because the wait for room was full (`framesBusy`),
   * and their connections closed after a frame waited too long for room (`framesNoRoom`).
   */
  get stats(): PeerGuardStats {
    return {
      evicted: this.#evicted,
      punished: this.#punished,
      framesBusy: this.#framesBusy,
      framesNoRoom: this.#framesNoRoom,
    };
  }

  /**
   * Disconnects and holds off `peer` for misbehaving, unless it is a member (members are
   * trusted not to take the network over: their bad messages are only dropped).
   *
   * @param peer The peer.
   * @param why What it did, for the log.
   * @returns Whether it was punished.
   */
  punish(peer: string, why: string): boolean {
    if (peer === "" || this.#components.membership.isMember(peer)) return false;
    this.#init.holds.hold(peer, Date.now());
    this.#punished++;
    this.#log("holding off %s: %s", peer, why);
    for (const connection of this.#components.connectionManager.getConnections()) {
      if (connection.remotePeer.toString() !== peer) continue;
      connection.abort(new Error(`peer held off: ${why}`));
    }
    return true;
  }

  /** Routes gossipsub's inbound streams through a {@linkcode GuardedStream}. */
  #guardGossip(): void {
    const pubsub = this.#components.pubsub as unknown as {
      createInboundStream(peerId: PeerId, stream: Stream): void;
    };
    const original = pubsub.createInboundStream.bind(pubsub);
    pubsub.createInboundStream = (peerId, stream) => {
      const peer = peerId.toString();
      const guarded = new GuardedStream(stream, {
        isMember: () => this.#components.membership.isMember(peer),
        proven: (signal) => this.#components.membership.waitForMember(peer, signal),
        budget: this.budget,
        maxFrameBytes: this.#init.maxFrameBytes,
        deadlineMs: (bytes) =>
          STRANGER_FRAME_BASE_MS + STRANGER_FRAME_MS_PER_MIB * bytes / (1024 * 1024),
        waitMs: STRANGER_FRAME_WAIT_MS,
        onViolation: (why) => this.#onViolation(peer, why),
      });
      original(peerId, guarded as unknown as Stream);
    };
  }

  #onViolation(peer: string, why: FrameViolation): void {
    // Not its fault: the wait for room is full. Only the stream is reset, the connection kept,
    // so that a member still proving itself stays connected (its gossip writer is reopened).
    if (why === "busy") {
      this.#framesBusy++;
      return;
    }
    if (why === "no-room") {
      this.#framesNoRoom++;
      // Not its fault: the node is busy. Closing lets its gossip start over later.
      for (const connection of this.#components.connectionManager.getConnections()) {
        if (connection.remotePeer.toString() === peer) connection.abort(new Error("busy"));
      }
      return;
    }
    this.punish(peer, `gossip frame ${why}`);
  }

  #onOpen = (): void => {
    this.#evict();
  };

  #evict(): void {
    const connections = this.#components.connectionManager.getConnections();
    let excess = connections.length - this.#init.maxConnections;
    if (excess <= 0) return;
    const now = Date.now();
    const strangers = connections
      .filter((c) => !this.#components.membership.isMember(c.remotePeer))
      .sort((a, b) => graced(a, now) - graced(b, now) || a.timeline.open - b.timeline.open);
    for (const connection of strangers) {
      if (excess <= 0) return;
      this.#evicted++;
      excess--;
      this.#log("closing stranger %p to make room", connection.remotePeer);
      connection.abort(new Error("making room for members"));
    }
  }
}

/** 0 for a connection past its proof grace (closed first), 1 for a younger one. */
function graced(connection: Connection, now: number): number {
  return now - connection.timeline.open >= PROOF_GRACE_MS ? 0 : 1;
}

/**
 * The peer guard component (see {@linkcode PeerGuard}).
 *
 * @param init Limits and the holds shared with the connection gater.
 * @returns A libp2p service factory (register it as `peerGuard`, after `pubsub` and
 * `membership`).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { peerGuard, PeerHolds } from "./peer_guard.ts";
 *
 * const holds = new PeerHolds();
 * assert.equal(typeof peerGuard({ maxConnections: 300, holds, maxFrameBytes: 1 << 20 }), "function");
 * ```
 */
export function peerGuard(init: PeerGuardInit): (components: PeerGuardComponents) => PeerGuard {
  return (components) => new PeerGuard(components, init);
}
