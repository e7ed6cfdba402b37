/**
 * Messaging on a network: signed direct messages (`/p2p/msg/1.0.0`), topics sealed with the
 * token, finding members by capability, and trust controls. A component of a
 * {@linkcode Network}: the members, their liveness, round trips and redials are the
 * network's; this adds the protocols.
 *
 * @module
 */

import type { Connection } from "@libp2p/interface";
import { peerIdFromString } from "@libp2p/peer-id";
import { multiaddr } from "@multiformats/multiaddr";
import type { NetworkComponent } from "../network/components.ts";
import type { Network } from "../network/network.ts";
import type { Capabilities } from "./capabilities.ts";
import {
  CONNECT_SETTLE_MS,
  DEFAULT_MAX_MESSAGE_AGE_MS,
  DEFAULT_MAX_MESSAGE_BYTES,
  DEFAULT_REPLAY_CACHE_SIZE,
  USEFUL_PEER_TTL_MS,
} from "./constants.ts";
import { type AdvertiseOptions, MemberDirectory } from "./directory.ts";
import { PeerDeniedError, PeerUnreachableError } from "./errors.ts";
import { InboundGuard } from "./inbound_guard.ts";
import type { MemberRecord } from "./member_record.ts";
import type { MessagingOptions } from "./options.ts";
import type { PeerMatch, PeerQuery } from "./peer_query.ts";
import { messageProtocol } from "./protocol.ts";
import type {
  EncodeMessageOptions,
  IncomingMessage,
  MessageHandler,
  MessageProtocol,
  RequestOptions,
  SendOptions,
} from "./protocol_types.ts";
import { RateLimiter } from "./rate_limiter.ts";
import { ReplayCache } from "./replay_cache.ts";
import { StatsRecorder, type TrafficStats } from "./stats.ts";
import { type TopicChannel, topicChannel, type TopicHandler } from "./topics.ts";
import { TrustPolicy } from "./trust.ts";
import { ADMISSION_WAIT_MS } from "../services/constants.ts";

/** A connected peer in {@linkcode MessagingStats}. */
export interface PeerStats {
  /** The peer ID. */
  peerId: string;
  /** Whether it proved it holds the token. */
  member: boolean;
  /** The last round trip to it, in ms. */
  rttMs?: number;
}

/** Traffic, rejections, peers and redials, from {@linkcode Messaging.stats}. */
export interface MessagingStats extends TrafficStats {
  /** The connected peers. */
  peers: PeerStats[];
  /** Members lost and dialled back since start. */
  reconnects: number;
}

/** What {@linkcode Messaging.broadcast} reached. */
export interface BroadcastResult {
  /** Members the message was delivered to. */
  delivered: string[];
  /** Members it could not be delivered to, and why. */
  failed: { peerId: string; error: Error }[];
}

/** The messaging protocols of one network (see the module). */
export class Messaging implements NetworkComponent {
  /**
   * The deny list and gate.
   * @ignore
   */
  readonly trust: TrustPolicy;
  /** Handlers of direct messages by type (a caller may share its map). */
  readonly handlers: Map<string, MessageHandler>;
  #network: Network;
  #options: MessagingOptions;
  #topicHandlers = new Map<string, Set<TopicHandler>>();
  #stats = new StatsRecorder();
  #protocol: MessageProtocol;
  #topics: TopicChannel;
  #directory: MemberDirectory;
  #onMessage: (message: IncomingMessage) => void;
  /** Peers a request or send reached lately, and when: redialled when lost. */
  #useful = new Map<string, number>();

  /**
   * Creates the protocols of one network; add it with `network.add()`.
   *
   * @param network The running network.
   * @param options Limits and trust.
   * @param hooks The handler map and trust policy to use, and who is told of every accepted
   * direct message (before its handler runs).
   */
  constructor(
    network: Network,
    options: MessagingOptions = {},
    hooks: {
      handlers?: Map<string, MessageHandler>;
      trust?: TrustPolicy;
      onMessage?: (message: IncomingMessage) => void;
    } = {},
  ) {
    this.#network = network;
    this.#options = options;
    this.handlers = hooks.handlers ?? new Map();
    this.#onMessage = hooks.onMessage ?? (() => {});
    // A node that gates connections passes its policy (installed in the connection gater).
    this.trust = hooks.trust ?? new TrustPolicy({
      ...(options.gate === undefined ? {} : { gate: options.gate }),
      deny: options.deny ?? [],
    });
    const now = network.now;
    const maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    const guard = new InboundGuard({
      trust: this.trust,
      isMember: (peer) => network.membership.isMember(peer),
      limiter: new RateLimiter({ ...options.rateLimit, now }),
      replay: new ReplayCache({
        maxAgeMs: options.maxMessageAgeMs ?? DEFAULT_MAX_MESSAGE_AGE_MS,
        maxEntries: options.replayCacheSize ?? DEFAULT_REPLAY_CACHE_SIZE,
        now,
      }),
      stats: this.#stats,
    });
    this.#protocol = messageProtocol({
      privateKey: network.privateKey,
      handlers: this.handlers,
      guard,
      trust: this.trust,
      stats: this.#stats,
      maxMessageBytes,
      now,
      ...(options.requestTimeoutMs === undefined
        ? {}
        : { requestTimeoutMs: options.requestTimeoutMs }),
      ...(options.retries === undefined ? {} : { retries: options.retries }),
      onMessage: (message) => this.#onMessage(message),
      onAnswer: (peer) => this.#markUseful(peer),
      awaitMember: (peer, connection) =>
        network.membership.waitForMember(peer, AbortSignal.timeout(ADMISSION_WAIT_MS), connection),
    })(network.node);
    this.#topics = topicChannel({
      token: network.token,
      privateKey: network.privateKey,
      handlers: this.#topicHandlers,
      guard,
      stats: this.#stats,
      maxMessageBytes,
      now,
    })({ pubsub: network.node.services.pubsub, peerId: network.node.peerId });
    this.#directory = new MemberDirectory(network, { isDenied: (p) => this.trust.isDenied(p) });
  }

  /** Registers the protocols, and has the network's liveness watch members and bootstrap peers. */
  async start(): Promise<void> {
    await this.#protocol.start();
    this.#topics.start();
    this.#directory.start();
    this.#network.membership.addEventListener("member:proven", this.#watch);
    this.#network.addEventListener("peer:connected", this.#watch);
    this.#network.addEventListener("peer:disconnected", this.#watch);
    this.#watch();
  }

  /** Withdraws the advertisement and unregisters the protocols. */
  async stop(): Promise<void> {
    this.#network.membership.removeEventListener("member:proven", this.#watch);
    this.#network.removeEventListener("peer:connected", this.#watch);
    this.#network.removeEventListener("peer:disconnected", this.#watch);
    this.#network.liveness.watch(this, new Map());
    this.#directory.stop();
    await this.#directory.withdraw().catch(() => {});
    this.#topics.stop();
    await this.#protocol.stop();
  }

  /** Peers that proved they hold the token. */
  members(): string[] {
    return this.#network.membership.members();
  }

  /** Sends a message (no answer expected). */
  async send(peer: string, type: string, payload: unknown, options?: SendOptions): Promise<void> {
    await this.#directory.learnAddresses(peer);
    return await this.#protocol.send(peer, type, payload, options);
  }

  /** Sends a request and resolves with the handler's answer. */
  async request(
    peer: string,
    type: string,
    payload: unknown,
    options?: RequestOptions,
  ): Promise<unknown> {
    await this.#directory.learnAddresses(peer);
    return await this.#protocol.request(peer, type, payload, options);
  }

  /** Sends to every connected member. */
  async broadcast(type: string, payload: unknown, options?: SendOptions): Promise<BroadcastResult> {
    const targets = this.#network.node.getPeers().map(String)
      .filter((p) => this.#network.membership.isMember(p) && !this.trust.isDenied(p));
    const results = await Promise.allSettled(
      targets.map((p) => this.send(p, type, payload, options)),
    );
    const result: BroadcastResult = { delivered: [], failed: [] };
    results.forEach((r, i) => {
      const peerId = targets[i]!;
      if (r.status === "fulfilled") result.delivered.push(peerId);
      else {result.failed.push({
          peerId,
          error: r.reason instanceof Error ? r.reason : new Error(String(r.reason)),
        });}
    });
    return result;
  }

  /** Publishes on a sealed topic; resolves with the number of peers it was sent to. */
  publish(topic: string, payload: unknown): Promise<number> {
    return this.#topics.publish(topic, payload);
  }

  /** Calls `handler` with every message on `topic`; returns the unsubscribe function. */
  subscribe(topic: string, handler: TopicHandler): () => void {
    let set = this.#topicHandlers.get(topic);
    if (set === undefined) {
      set = new Set();
      this.#topicHandlers.set(topic, set);
    }
    set.add(handler);
    this.#topics.sync();
    return () => {
      set.delete(handler);
      if (set.size === 0 && this.#topicHandlers.get(topic) === set) {
        this.#topicHandlers.delete(topic);
      }
      this.#topics.sync();
    };
  }

  /**
   * Members subscribed to `topic`: the peers a `publish` reaches now (a peer that has not
   * proved it holds the token gets nothing, subscribed or not).
   */
  topicPeers(topic: string): string[] {
    return this.#topics.subscribers(topic).filter((peer) => this.#network.isMember(peer));
  }

  /** Advertises this node's capabilities (a signed record, refreshed). */
  advertise(capabilities: Capabilities, options?: AdvertiseOptions): Promise<MemberRecord> {
    return this.#directory.advertise(capabilities, options);
  }

  /** Members matching `query` that answer, fastest first. */
  findPeers(query?: PeerQuery): Promise<PeerMatch[]> {
    return this.#directory.findPeers(query);
  }

  /** Dials `address` and waits until the peer identified (or its gate closed the connection). */
  async connect(address: string): Promise<string> {
    const target = multiaddr(address);
    const id = target.getComponents().findLast((c) => c.name === "p2p")?.value;
    if (id !== undefined && this.trust.isDenied(id)) throw new PeerDeniedError(id, "connect");
    const node = this.#network.node;
    const known = id !== undefined && this.#network.isConnected(id);
    let connection: Connection;
    try {
      connection = await node.dial(target);
    } catch (error) {
      if (id !== undefined && !(await this.trust.admits(id, [address]))) {
        throw new PeerDeniedError(id, "connect");
      }
      throw new PeerUnreachableError(id ?? address, "connect", { cause: error });
    }
    if (!known) await settle(this.#network, connection, CONNECT_SETTLE_MS);
    const peer = connection.remotePeer.toString();
    if (connection.status !== "open") {
      throw new PeerUnreachableError(peer, "connect", {
        cause: new Error("the peer closed the connection"),
      });
    }
    return peer;
  }

  /** Denies `peerId` and hangs up on it. */
  async deny(peerId: string): Promise<void> {
    this.trust.deny(peerId);
    await this.#network.node.hangUp(peerIdFromString(peerId)).catch(() => {});
  }

  /** Encodes a signed message frame without sending it (replay tests, custom transports). */
  encodeMessage(
    peer: string,
    type: string,
    payload: unknown,
    options?: EncodeMessageOptions,
  ): Promise<Uint8Array> {
    return this.#protocol.encodeMessage(peer, type, payload, options);
  }

  /** Sends an already encoded frame. */
  async sendFrame(peer: string, frame: Uint8Array, options?: SendOptions): Promise<unknown> {
    await this.#directory.learnAddresses(peer);
    return await this.#protocol.sendFrame(peer, frame, options);
  }

  /** Traffic, rejections, connected peers with their round trips, and redials. */
  stats(): MessagingStats {
    const liveness = this.#network.liveness;
    const peers = this.#network.node.getPeers().map(String).map((peerId): PeerStats => {
      const rttMs = liveness.rttMs(peerId);
      return {
        peerId,
        member: this.#network.membership.isMember(peerId),
        ...(rttMs === undefined ? {} : { rttMs }),
      };
    });
    return { ...this.#stats.snapshot(), peers, reconnects: liveness.reconnects };
  }

  #markUseful(peer: string): void {
    const known = this.#useful.has(peer);
    this.#useful.set(peer, this.#network.now());
    if (!known) this.#watch();
  }

  /**
   * The network's liveness pings the connected members (their round trips) and redials the
   * bootstrap peers and the members this node exchanged messages with lately, when lost.
   */
  #watch = (): void => {
    const peers = new Map<string, string[]>();
    const add = (peer: string, addresses: string[] = []): void => {
      if (!this.trust.isDenied(peer)) peers.set(peer, [...(peers.get(peer) ?? []), ...addresses]);
    };
    const reconnect = this.#options.reconnect !== false;
    if (reconnect) {
      for (const address of this.#options.bootstrapPeers ?? []) {
        const id = address.split("/p2p/").at(-1);
        if (id !== undefined && id !== address) add(id, [address]);
      }
    }
    const now = this.#network.now();
    for (const [peer, at] of this.#useful) {
      if (now - at > USEFUL_PEER_TTL_MS) this.#useful.delete(peer);
      else if (reconnect) add(peer);
    }
    for (const member of this.members()) if (this.#network.isConnected(member)) add(member);
    this.#network.liveness.watch(this, peers);
  };
}

function settle(network: Network, connection: Connection, ms: number): Promise<void> {
  const { node } = network;
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      node.removeEventListener("peer:identify", onIdentify);
      node.removeEventListener("connection:close", onClose);
      resolve();
    };
    const onIdentify = (event: CustomEvent<{ connection: Connection }>): void => {
      if (event.detail.connection === connection) done();
    };
    const onClose = (event: CustomEvent<Connection>): void => {
      if (event.detail === connection) done();
    };
    const timer = setTimeout(done, ms);
    node.addEventListener("peer:identify", onIdentify);
    node.addEventListener("connection:close", onClose);
    if (connection.status !== "open") done();
  });
}
