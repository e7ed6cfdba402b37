import type {
  ComponentLogger,
  Connection,
  IdentifyResult,
  Libp2pEvents,
  Logger,
  PeerId,
  PeerStore,
  Startable,
  Stream,
  TypedEventTarget,
} from "@libp2p/interface";
import { TypedEventEmitter } from "@libp2p/interface";
import type { Registrar } from "@libp2p/interface-internal";
import { peerIdFromString } from "@libp2p/peer-id";
import { byteStream } from "@libp2p/utils";
import { memberSecret } from "../token/derive.ts";
import type { NetworkToken } from "../token/token.ts";
import {
  MAX_PROVEN_MEMBERS,
  MEMBER_TAG,
  MEMBER_TAG_VALUE,
  MEMBERSHIP_ATTEMPTS,
  MEMBERSHIP_PROTOCOL,
  MEMBERSHIP_RETRY_BASE_MS,
  MEMBERSHIP_RETRY_MAX_MS,
  MEMBERSHIP_TIMEOUT_MS,
} from "./constants.ts";
import { backoffDelay } from "./backoff.ts";
import {
  memberProof,
  newNonce,
  PROOF_BYTES,
  type ProofContext,
  verifyMemberProof,
} from "./member_proof.ts";

/** How a peer proved that it holds the token. */
export type ProofKind = "challenge" | "gossip";

/** Options of the {@linkcode membership} component. */
export interface MembershipInit {
  /** The network token: the challenge is keyed with a secret derived from it. */
  token: NetworkToken;
}

/** What the node gives the {@linkcode membership} component. */
export interface MembershipComponents {
  /** This node's peer ID (bound into every proof). */
  peerId: PeerId;
  /** Where the challenge protocol is registered. */
  registrar: Registrar;
  /** The node's events: `peer:identify` starts a challenge. */
  events: TypedEventTarget<Libp2pEvents>;
  /** Members are tagged there, so connection pruning closes outsiders first. */
  peerStore: PeerStore;
  /** Where the component logs (`p2p:membership`). */
  logger: ComponentLogger;
}

/** Events of a {@linkcode Membership}. */
export interface MembershipEvents {
  /** A peer proved membership for the first time (detail: its peer ID). */
  "member:proven": CustomEvent<string>;
}

/**
 * Who has proved to hold the network token: peers that answered the membership challenge
 * (p2p nodes), and peers that published a correctly sealed ledger block under their own
 * gossip signature that names them (LocalAI and edgevpn nodes, which cannot answer it; the
 * ledger reports those through {@linkcode Membership.prove}).
 *
 * Everything that routes to a peer or serves one (balancer, `connect`, discovery, pools, the
 * `users` gate) asks here first: a peer named in a record is not a member until proved.
 */
export class Membership extends TypedEventEmitter<MembershipEvents> implements Startable {
  readonly [Symbol.toStringTag] = "@p2p/membership";
  #components: MembershipComponents;
  #secret: Uint8Array;
  #log: Logger;
  #proven = new Map<string, ProofKind>();
  #failed = new Set<string>();
  #inFlight = new Map<string, Promise<boolean>>();
  /** The next challenge of each peer still to prove itself, by peer ID, and its connection. */
  #retries = new Map<string, { timer: ReturnType<typeof setTimeout>; connection: Connection }>();
  #started = false;

  /**
   * @param components The node's components.
   * @param init The token.
   */
  constructor(components: MembershipComponents, init: MembershipInit) {
    super();
    this.#components = components;
    this.#secret = memberSecret(init.token, "membership");
    this.#log = components.logger.forComponent("p2p:membership");
  }

  /** Whether the component runs. */
  isStarted(): boolean {
    return this.#started;
  }

  /** Registers the challenge protocol and starts challenging identified peers. */
  async start(): Promise<void> {
    if (this.#started) return;
    await this.#components.registrar.handle(MEMBERSHIP_PROTOCOL, this.#answer, {
      maxInboundStreams: 2,
      maxOutboundStreams: 2,
      runOnLimitedConnection: true,
    });
    this.#components.events.addEventListener("peer:identify", this.#onIdentify);
    this.#started = true;
  }

  /** Stops challenging and answering. */
  async stop(): Promise<void> {
    this.#started = false;
    this.#components.events.removeEventListener("peer:identify", this.#onIdentify);
    for (const { timer } of this.#retries.values()) clearTimeout(timer);
    this.#retries.clear();
    await this.#components.registrar.unhandle(MEMBERSHIP_PROTOCOL);
  }

  /** Whether `peer` has proved membership (this node always has). */
  isMember(peer: string | PeerId): boolean {
    const id = peer.toString();
    return id === this.#components.peerId.toString() || this.#proven.has(id);
  }

  /** Whether `peer` answered the challenge with a wrong proof (another network's node). */
  failedProof(peer: string | PeerId): boolean {
    return this.#failed.has(peer.toString());
  }

  /** How `peer` proved membership, if it did. */
  proofOf(peer: string | PeerId): ProofKind | undefined {
    return this.#proven.get(peer.toString());
  }

  /** The peers that proved membership, oldest first. */
  members(): string[] {
    return [...this.#proven.keys()];
  }

  /**
   * Records that `peer` proved membership.
   *
   * @param peer The peer.
   * @param kind How it proved it.
   */
  prove(peer: string | PeerId, kind: ProofKind): void {
    const id = peer.toString();
    if (id === this.#components.peerId.toString() || this.#proven.has(id)) return;
    if (this.#proven.size >= MAX_PROVEN_MEMBERS) {
      const oldest = this.#proven.keys().next().value;
      if (oldest !== undefined) this.#proven.delete(oldest);
    }
    this.#proven.set(id, kind);
    this.#failed.delete(id);
    this.#log("%s proved membership by %s", id, kind);
    this.#tag(typeof peer === "string" ? peerIdFromString(peer) : peer);
    this.safeDispatchEvent("member:proven", { detail: id });
  }

  /**
   * Waits until `peer` has proved membership; challenges it at once when `connection` (a
   * connection to it) is given and it speaks the challenge protocol.
   *
   * @param peer The peer.
   * @param signal Ends the wait (the result is then `false`).
   * @param connection An open connection to the peer, to challenge it now.
   * @returns Whether it proved membership before the signal.
   */
  waitForMember(peer: string, signal: AbortSignal, connection?: Connection): Promise<boolean> {
    if (this.isMember(peer)) return Promise.resolve(true);
    if (signal.aborted) return Promise.resolve(false);
    if (connection !== undefined) void this.challenge(connection);
    return new Promise((resolve) => {
      const onProven = (event: CustomEvent<string>): void => {
        if (event.detail === peer) finish(true);
      };
      const finish = (proven: boolean): void => {
        this.removeEventListener("member:proven", onProven);
        signal.removeEventListener("abort", onAbort);
        resolve(proven);
      };
      const onAbort = (): void => finish(false);
      this.addEventListener("member:proven", onProven);
      signal.addEventListener("abort", onAbort);
    });
  }

  /**
   * Challenges the peer at the other end of `connection` (once at a time per peer).
   *
   * @returns Whether it proved membership.
   */
  challenge(connection: Connection): Promise<boolean> {
    const id = connection.remotePeer.toString();
    if (this.isMember(id)) return Promise.resolve(true);
    let attempt = this.#inFlight.get(id);
    if (attempt === undefined) {
      attempt = this.#challenge(connection).finally(() => this.#inFlight.delete(id));
      this.#inFlight.set(id, attempt);
    }
    return attempt;
  }

  async #challenge(connection: Connection): Promise<boolean> {
    const signal = AbortSignal.timeout(MEMBERSHIP_TIMEOUT_MS);
    let stream: Stream | undefined;
    try {
      stream = await connection.newStream(MEMBERSHIP_PROTOCOL, {
        signal,
        runOnLimitedConnection: true,
      });
      const bytes = byteStream(stream);
      const context: ProofContext = {
        initiator: this.#components.peerId.toString(),
        responder: connection.remotePeer.toString(),
        initiatorNonce: newNonce(),
      };
      await bytes.write(context.initiatorNonce, { signal });
      const answer = (await bytes.read({ bytes: 2 * PROOF_BYTES, signal })).subarray();
      const responderNonce = answer.subarray(0, PROOF_BYTES);
      const proof = answer.subarray(PROOF_BYTES);
      if (!verifyMemberProof(this.#secret, "responder", context, proof)) {
        this.#failed.add(context.responder);
        stream.abort(new Error("wrong membership proof"));
        return false;
      }
      const ours = memberProof(this.#secret, "initiator", { ...context, responderNonce });
      await bytes.write(ours, { signal });
      await stream.close({ signal });
      this.prove(connection.remotePeer, "challenge");
      return true;
    } catch (err) {
      this.#log("could not challenge %p - %e", connection.remotePeer, err);
      stream?.abort(err instanceof Error ? err : new Error(String(err)));
      return false;
    }
  }

  #answer = async (stream: Stream, connection: Connection): Promise<void> => {
    const signal = AbortSignal.timeout(MEMBERSHIP_TIMEOUT_MS);
    try {
      const bytes = byteStream(stream);
      const initiatorNonce = (await bytes.read({ bytes: PROOF_BYTES, signal })).subarray();
      const context: ProofContext = {
        initiator: connection.remotePeer.toString(),
        responder: this.#components.peerId.toString(),
        initiatorNonce,
      };
      const responderNonce = newNonce();
      const proof = memberProof(this.#secret, "responder", context);
      const answer = new Uint8Array(2 * PROOF_BYTES);
      answer.set(responderNonce);
      answer.set(proof, PROOF_BYTES);
      await bytes.write(answer, { signal });
      const theirs = (await bytes.read({ bytes: PROOF_BYTES, signal })).subarray();
      if (verifyMemberProof(this.#secret, "initiator", { ...context, responderNonce }, theirs)) {
        this.prove(connection.remotePeer, "challenge");
      } else {
        this.#failed.add(context.initiator);
      }
      await stream.close({ signal });
    } catch (err) {
      this.#log("could not answer a challenge from %p - %e", connection.remotePeer, err);
      stream.abort(err instanceof Error ? err : new Error(String(err)));
    }
  };

  /**
   * Both sides identify each other; the one with the smaller ID challenges at once. The other
   * challenges too if no proof came within a challenge's bound: the first side's identify or
   * challenge may have failed, and a peer that never proves itself gets no service (a node
   * starting among 40 busy processes waited for ever).
   */
  #onIdentify = (event: CustomEvent<IdentifyResult>): void => {
    const { peerId, protocols, connection } = event.detail;
    if (this.isMember(peerId) || !protocols.includes(MEMBERSHIP_PROTOCOL)) return;
    if (this.#components.peerId.toString() < peerId.toString()) this.#pursue(connection, 0);
    else this.#retryLater(connection, 1, 2 * MEMBERSHIP_TIMEOUT_MS);
  };

  /**
   * Challenges the peer of `connection`, and again after a failure that was not a wrong proof
   * (a timeout, a reset stream: the peer or this node was busy), with the project's backoff,
   * {@linkcode MEMBERSHIP_ATTEMPTS} times at most and while the connection is open.
   */
  #pursue(connection: Connection, attempt: number): void {
    void this.challenge(connection).then((proven) => {
      const id = connection.remotePeer.toString();
      if (proven || this.#failed.has(id) || attempt + 1 >= MEMBERSHIP_ATTEMPTS) return;
      const delayMs = backoffDelay(attempt, {
        baseMs: MEMBERSHIP_RETRY_BASE_MS,
        maxMs: MEMBERSHIP_RETRY_MAX_MS,
      });
      this.#retryLater(connection, attempt + 1, delayMs);
    });
  }

  /** Schedules the next challenge of a peer (one per peer: a new connection's replaces it). */
  #retryLater(connection: Connection, attempt: number, delayMs: number): void {
    const id = connection.remotePeer.toString();
    if (!this.#started) return;
    const pending = this.#retries.get(id);
    if (pending !== undefined) {
      if (pending.connection === connection) return;
      clearTimeout(pending.timer);
    }
    const timer = setTimeout(() => {
      this.#retries.delete(id);
      const settled = this.isMember(id) || this.#failed.has(id);
      if (this.#started && !settled && connection.status === "open") {
        this.#log("challenging %s again (attempt %d)", id, attempt + 1);
        this.#pursue(connection, attempt);
      }
    }, delayMs);
    this.#retries.set(id, { timer, connection });
  }

  #tag(peer: PeerId): void {
    this.#components.peerStore.merge(peer, {
      tags: { [MEMBER_TAG]: { value: MEMBER_TAG_VALUE } },
    }).catch((err) => this.#log("could not tag member %p - %e", peer, err));
  }
}

/**
 * The membership component: the challenge protocol and the registry of proved members.
 *
 * @param init The network token.
 * @returns A libp2p service factory (register it as `membership`).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { createLibp2pNode } from "./create_node.ts";
 * import { generateTokenConfig } from "../token/token.ts";
 *
 * const token = generateTokenConfig();
 * const options = { token, listen: ["/ip4/127.0.0.1/tcp/0"], bootstrapPeers: [], mdns: false };
 * const a = await createLibp2pNode(options);
 * const b = await createLibp2pNode(options);
 * await a.start();
 * await b.start();
 * try {
 *   const connection = await a.dial(b.getMultiaddrs()[0]!);
 *   assert.equal(await a.services.membership.challenge(connection), true);
 *   const proven = b.services.membership.waitForMember(a.peerId.toString(), AbortSignal.timeout(5_000));
 *   assert.equal(await proven, true);
 * } finally {
 *   await a.stop();
 *   await b.stop();
 * }
 * ```
 */
export function membership(init: MembershipInit): (components: MembershipComponents) => Membership {
  return (components) => new Membership(components, init);
}
