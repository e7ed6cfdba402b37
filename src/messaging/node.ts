/**
 * `createNode`: a p2p node for programs. It runs on the same network stack as the CLI
 * (`startNetwork`: libp2p, the sealed ledger, rendezvous) and adds signed direct messages,
 * sealed topics, peer finding by capability, trust controls and connection health.
 *
 * @module
 */

import type { NatOptions } from "../node/nat.ts";
import { generateKeyPair } from "@libp2p/crypto/keys";
import {
  type Connection,
  type PeerId,
  type PrivateKey,
  TypedEventEmitter,
} from "@libp2p/interface";
import { peerIdFromPrivateKey, peerIdFromString } from "@libp2p/peer-id";
import { multiaddr } from "@multiformats/multiaddr";
import { type Network, startNetwork } from "../ledger/network.ts";
import { decodeToken, type NetworkToken } from "../token/token.ts";
import type { Capabilities } from "./capabilities.ts";
import {
  CONNECT_SETTLE_MS,
  DEFAULT_MAX_MESSAGE_AGE_MS,
  DEFAULT_MAX_MESSAGE_BYTES,
  DEFAULT_REPLAY_CACHE_SIZE,
  MEMBERS_BUCKET,
} from "./constants.ts";
import { type AdvertiseOptions, type MemberDirectory, memberDirectory } from "./directory.ts";
import { NodeNotRunningError, PeerDeniedError, PeerUnreachableError } from "./errors.ts";
import { type HealthMonitor, healthMonitor } from "./health.ts";
import { InboundGuard } from "./inbound_guard.ts";
import type { MemberRecord } from "./member_record.ts";
import type { PeerMatch, PeerQuery } from "./peer_query.ts";
import {
  type EncodeMessageOptions,
  type IncomingMessage,
  type MessageHandler,
  type MessageProtocol,
  messageProtocol,
  type RequestOptions,
  type SendOptions,
} from "./protocol.ts";
import { RateLimiter } from "./rate_limiter.ts";
import { ReplayCache } from "./replay_cache.ts";
import { StatsRecorder, type TrafficStats } from "./stats.ts";
import type { RateLimit } from "./token_bucket.ts";
import { type TopicChannel, topicChannel, type TopicHandler } from "./topics.ts";
import { type Gate, TrustPolicy } from "./trust.ts";

/** Options of {@linkcode createNode}: the CLI's common flags, plus messaging limits. */
export interface P2PNodeOptions extends NatOptions {
  /** The network token, encoded (as `p2p token` prints it) or decoded. */
  token: string | NetworkToken;
  /** Listen multiaddrs. @default {["/ip4/0.0.0.0/tcp/0", "/ip6/::/tcp/0"]} */
  listen?: readonly string[];
  /**
   * Bootstrap multiaddrs (with `/p2p/<id>`). `undefined`: the public IPFS list, as LocalAI;
   * `[]`: none (a seed node). Bootstrap peers are redialed when lost.
   */
  bootstrapPeers?: readonly string[] | undefined;
  /** Kademlia DHT rendezvous. @default {true} */
  dht?: boolean;
  /** mDNS discovery on the local network. @default {true} */
  mdns?: boolean;
  /** Private mode: outsiders fail the handshake (Go peers cannot join). @default {false} */
  private?: boolean;
  /** The node's key (see `loadOrCreateIdentity`); a fresh Ed25519 key when absent. */
  privateKey?: PrivateKey;
  /** Cap on open connections. @default {300} */
  maxConnections?: number;
  /** Prefix of the members bucket (`ID_p2p_members`), as the CLI's `--network-id`. */
  networkId?: string;
  /** The clock, in milliseconds since the epoch. @default {Date.now} */
  now?: () => number;
  /** Largest message frame sent or accepted, in bytes. @default {1048576} */
  maxMessageBytes?: number;
  /** Largest age (or clock skew) of an accepted message, in milliseconds. @default {30000} */
  maxMessageAgeMs?: number;
  /** Nonces remembered at most against replays. @default {100000} */
  replayCacheSize?: number;
  /** Rate limits on incoming messages; `false` turns one off. */
  rateLimit?: {
    /** Per sending peer. @default {{ burst: 100, perSecond: 50 }} */
    perPeer?: RateLimit | false;
    /** All peers together. @default {{ burst: 1000, perSecond: 500 }} */
    global?: RateLimit | false;
  };
  /** Bound on one request or send attempt, in milliseconds. @default {10000} */
  requestTimeoutMs?: number;
  /** Retries of a request or send after a transient failure. @default {2} */
  retries?: number;
  /** Interval of heartbeat pings to connected members, in milliseconds. @default {5000} */
  heartbeatIntervalMs?: number;
  /** Redial lost bootstrap and recently useful peers, with backoff. @default {true} */
  reconnect?: boolean;
  /** Consulted before any connection is accepted or opened: `true` admits the peer. */
  gate?: Gate;
  /** Peers denied from the start. */
  deny?: readonly string[];
  /** Interval of the ledger's full rebroadcast, in milliseconds. @default {10000} */
  syncIntervalMs?: number;
}

/** Events of a {@linkcode P2PNode}. */
export interface P2PNodeEvents {
  /** A peer connected (its first connection opened). */
  "peer:connect": CustomEvent<{ peerId: string }>;
  /** A peer disconnected (its last connection closed). */
  "peer:disconnect": CustomEvent<{ peerId: string }>;
  /** A direct message was accepted, before its handler runs. */
  message: CustomEvent<IncomingMessage>;
}

/** What {@linkcode P2PNode.peerInfo} knows about a peer. */
export interface PeerDetails {
  /** The peer ID. */
  peerId: string;
  /** Whether a connection is open. */
  connected: boolean;
  /** Whether the peer is a member of the network (known from the ledger). */
  member: boolean;
  /** Known addresses (the open connections' first). */
  addresses: string[];
  /** Protocols the peer announced (identify). */
  protocols: string[];
  /** The peer's agent version (identify), if known. */
  agent?: string;
  /** The last round-trip time measured, in milliseconds. */
  rttMs?: number;
  /** When the oldest open connection was opened, in milliseconds since the epoch. */
  connectedSince?: number;
}

/** One peer in {@linkcode P2PNodeStats}. */
export interface PeerStats {
  /** The peer ID. */
  peerId: string;
  /** Whether the peer is a member of the network (known from the ledger). */
  member: boolean;
  /** The last round-trip time measured, in milliseconds. */
  rttMs?: number;
}

/** What {@linkcode P2PNode.stats} returns. */
export interface P2PNodeStats extends TrafficStats {
  /** Connected peers. */
  peers: PeerStats[];
  /** Successful redials of lost peers. */
  reconnects: number;
}

/** What {@linkcode P2PNode.broadcast} returns. */
export interface BroadcastResult {
  /** Members whose handler ran. */
  delivered: string[];
  /** Members that failed, with the error. */
  failed: { peerId: string; error: Error }[];
}

type State = "idle" | "starting" | "running" | "stopping" | "stopped";

interface Running {
  network: Network;
  protocol: MessageProtocol;
  topics: TopicChannel;
  directory: MemberDirectory;
  health: HealthMonitor;
  detach: () => void;
}

/**
 * A p2p node for programs: see {@linkcode createNode}. Operations start the node on first use;
 * after `stop()` they throw {@linkcode NodeNotRunningError} until `start()` is called again.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { NodeNotRunningError, P2PNode } from "@p2p/p2p/messaging";
 * import { generateToken } from "@p2p/p2p/token";
 *
 * const node = new P2PNode({
 *   token: generateToken(),
 *   listen: ["/ip4/127.0.0.1/tcp/0"],
 *   bootstrapPeers: [],
 *   mdns: false,
 *   dht: false,
 * });
 * assert.equal(node.isRunning(), false);
 * await node.start();
 * try {
 *   assert.ok(node.isRunning());
 *   assert.equal(node.network.peerId.toString(), node.peerId);
 * } finally {
 *   await node.stop();
 * }
 * assert.throws(() => node.network, NodeNotRunningError);
 * ```
 */
export class P2PNode extends TypedEventEmitter<P2PNodeEvents> {
  #options: P2PNodeOptions;
  #token: NetworkToken;
  #privateKey: PrivateKey | undefined;
  #state: State = "idle";
  #starting: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;
  #running: Running | undefined;
  #handlers = new Map<string, MessageHandler>();
  #topicHandlers = new Map<string, Set<TopicHandler>>();
  #trust: TrustPolicy;
  #stats = new StatsRecorder();
  #advertised: { capabilities: Capabilities; options: AdvertiseOptions } | undefined;

  /**
   * Constructs a node; prefer {@linkcode createNode}.
   *
   * @param options The token, network flags and messaging limits.
   * @throws {InvalidTokenError} If the token does not decode.
   */
  constructor(options: P2PNodeOptions) {
    super();
    this.#options = options;
    this.#token = typeof options.token === "string" ? decodeToken(options.token) : options.token;
    this.#privateKey = options.privateKey;
    this.#trust = new TrustPolicy({
      ...(options.gate === undefined ? {} : { gate: options.gate }),
      deny: options.deny ?? [],
    });
  }

  /** The decoded network token. */
  get token(): NetworkToken {
    return this.#token;
  }

  /**
   * The node's peer ID.
   *
   * @throws {NodeNotRunningError} Before the first start (unless a key was given).
   */
  get peerId(): string {
    if (this.#privateKey === undefined) throw new NodeNotRunningError("read peer ID");
    return peerIdFromPrivateKey(this.#privateKey).toString();
  }

  /**
   * The network underneath (libp2p node, ledger, hub), for advanced use.
   *
   * @throws {NodeNotRunningError} If the node is not running.
   */
  get network(): Network {
    return this.#require("use the network").network;
  }

  /** Whether the node is running. */
  isRunning(): boolean {
    return this.#state === "running";
  }

  /**
   * Starts the node: the network, the messaging protocol, topics, the directory and the
   * health monitor. Does nothing if it is running.
   */
  start(): Promise<void> {
    if (this.#state === "running") return Promise.resolve();
    if (this.#state === "starting") return this.#starting!;
    if (this.#state === "stopping") {
      return this.#stopping!.then(() => this.start());
    }
    this.#state = "starting";
    this.#starting = this.#start().then(
      () => {
        this.#state = "running";
      },
      (error) => {
        this.#state = "idle";
        throw error;
      },
    );
    return this.#starting;
  }

  /** Stops the node (withdrawing its member record first). Does nothing if not running. */
  stop(): Promise<void> {
    if (this.#state === "starting") return this.#starting!.catch(() => {}).then(() => this.stop());
    if (this.#state !== "running") return this.#stopping ?? Promise.resolve();
    this.#state = "stopping";
    this.#stopping = this.#stop().finally(() => {
      this.#state = "stopped";
      this.#running = undefined;
    });
    return this.#stopping;
  }

  /**
   * This node's listen addresses, each with `/p2p/<id>`; `[]` when not running.
   *
   * @returns The multiaddrs.
   */
  addresses(): string[] {
    const running = this.#running;
    if (running === undefined) return [];
    const self = running.network.peerId.toString();
    return running.network.node.getMultiaddrs().map((ma) => {
      const text = ma.toString();
      return text.includes("/p2p/") ? text : `${text}/p2p/${self}`;
    });
  }

  /**
   * Connects to a peer by multiaddr (with `/p2p/<id>`).
   *
   * @param address The peer's multiaddr.
   * @returns The peer ID connected to.
   * @throws {PeerDeniedError} If the peer is denied or refused by the gate.
   * @throws {PeerUnreachableError} If the dial fails.
   */
  async connect(address: string): Promise<string> {
    const { network } = await this.#ensure("connect");
    const target = multiaddr(address);
    const id = target.getComponents().findLast((c) => c.name === "p2p")?.value;
    if (id !== undefined && this.#trust.isDenied(id)) throw new PeerDeniedError(id, "connect");
    const known = id !== undefined && network.node.getConnections(peerIdFromString(id)).length > 0;
    let connection: Connection;
    try {
      connection = await network.node.dial(target);
    } catch (error) {
      if (id !== undefined && !(await this.#trust.admits(id, [address]))) {
        throw new PeerDeniedError(id, "connect");
      }
      throw new PeerUnreachableError(id ?? address, "connect", { cause: error });
    }
    // The dial resolves before the peer has checked us: wait for identify, or for the peer's
    // gate to close the connection.
    if (!known) await settle(network, connection, CONNECT_SETTLE_MS);
    const peer = connection.remotePeer.toString();
    if (connection.status !== "open") {
      throw new PeerUnreachableError(peer, "connect", {
        cause: new Error("the peer closed the connection"),
      });
    }
    return peer;
  }

  /**
   * The peers with an open connection.
   *
   * @returns Their peer IDs.
   */
  connectedPeers(): string[] {
    const node = this.#running?.network.node;
    if (node === undefined) return [];
    return [...new Set(node.getConnections().map((c) => c.remotePeer.toString()))];
  }

  /**
   * The network's members known from the ledger (nodes that wrote its heartbeat or advertised),
   * not this node. Only members can write to the sealed ledger.
   *
   * @returns Their peer IDs.
   */
  members(): string[] {
    return [...(this.#running?.directory.members() ?? [])];
  }

  /**
   * What is known about a peer: addresses, protocols, agent, RTT, connection age.
   *
   * @param peerId The peer.
   * @returns The details, or `undefined` if the peer is unknown.
   */
  async peerInfo(peerId: string): Promise<PeerDetails | undefined> {
    const running = this.#running;
    if (running === undefined) return undefined;
    const { node } = running.network;
    const id = peerIdFromString(peerId);
    const connections = node.getConnections(id);
    let stored;
    try {
      stored = await node.peerStore.get(id);
    } catch {
      if (connections.length === 0) return undefined;
    }
    const addresses = [
      ...connections.map((c) => c.remoteAddr.toString()),
      ...(stored?.addresses.map((a) => a.multiaddr.toString()) ?? []),
    ];
    const agent = stored?.metadata.get("AgentVersion");
    const rttMs = running.health.health(peerId)?.rttMs;
    const since = oldest(connections);
    return {
      peerId,
      connected: connections.length > 0,
      member: running.directory.members().has(peerId),
      addresses: [...new Set(addresses)],
      protocols: [...(stored?.protocols ?? [])],
      ...(agent === undefined ? {} : { agent: new TextDecoder().decode(agent) }),
      ...(rttMs === undefined ? {} : { rttMs }),
      ...(since === undefined ? {} : { connectedSince: since }),
    };
  }

  /**
   * Registers the handler of a message type (replacing any previous one). Messages of types
   * without a handler are refused with `UnknownMessageTypeError` at the sender.
   *
   * @param type The message type.
   * @param handler Receives `{ from, type, payload, kind }`; returns the response.
   */
  handle(type: string, handler: MessageHandler): void {
    this.#handlers.set(type, handler);
  }

  /**
   * Removes the handler of a message type.
   *
   * @param type The message type.
   */
  unhandle(type: string): void {
    this.#handlers.delete(type);
  }

  /**
   * Sends a one-way message; resolves once the peer accepted it and its handler ran.
   *
   * @param peer The peer ID.
   * @param type The message type.
   * @param payload A JSON value, or bytes.
   * @param options Time-out, retries, abort signal.
   */
  async send(peer: string, type: string, payload: unknown, options?: SendOptions): Promise<void> {
    const { protocol } = await this.#ensure("send message");
    await protocol.send(peer, type, payload, options);
  }

  /**
   * Sends a request and resolves with the peer's response.
   *
   * @param peer The peer ID.
   * @param type The message type.
   * @param payload A JSON value, or bytes.
   * @param options Time-out, retries, abort signal.
   * @returns The handler's return value (JSON value or bytes).
   */
  async request<T = unknown>(
    peer: string,
    type: string,
    payload: unknown,
    options?: RequestOptions,
  ): Promise<T> {
    const { protocol } = await this.#ensure("send request");
    return await protocol.request(peer, type, payload, options) as T;
  }

  /**
   * Sends a one-way message to every connected member, in parallel.
   *
   * @param type The message type.
   * @param payload A JSON value, or bytes.
   * @param options Time-out, retries, abort signal (per peer).
   * @returns Who got it and who failed.
   */
  async broadcast(type: string, payload: unknown, options?: SendOptions): Promise<BroadcastResult> {
    const { protocol, directory } = await this.#ensure("broadcast message");
    const members = directory.members();
    const targets = this.connectedPeers().filter((p) => members.has(p) && !this.#trust.isDenied(p));
    const results = await Promise.allSettled(
      targets.map((peer) => protocol.send(peer, type, payload, options)),
    );
    const result: BroadcastResult = { delivered: [], failed: [] };
    results.forEach((r, i) => {
      const peerId = targets[i]!;
      if (r.status === "fulfilled") result.delivered.push(peerId);
      else result.failed.push({ peerId, error: toError(r.reason) });
    });
    return result;
  }

  /**
   * Publishes to a topic, sealed with the network token.
   *
   * @param topic The topic name.
   * @param payload A JSON value, or bytes.
   * @returns How many peers it was sent to.
   */
  async publish(topic: string, payload: unknown): Promise<number> {
    const { topics } = await this.#ensure("publish");
    return await topics.publish(topic, payload);
  }

  /**
   * Subscribes to a topic. Works before `start()` (it applies when the node starts).
   *
   * @param topic The topic name.
   * @param handler Receives `{ from, topic, payload }`.
   * @returns A function that unsubscribes this handler.
   */
  subscribe(topic: string, handler: TopicHandler): () => void {
    let set = this.#topicHandlers.get(topic);
    if (set === undefined) {
      set = new Set();
      this.#topicHandlers.set(topic, set);
    }
    set.add(handler);
    this.#running?.topics.sync();
    return () => {
      set.delete(handler);
      if (set.size === 0 && this.#topicHandlers.get(topic) === set) {
        this.#topicHandlers.delete(topic);
      }
      this.#running?.topics.sync();
    };
  }

  /**
   * The peers known to be subscribed to a topic (useful to wait before publishing).
   *
   * @param topic The topic name.
   * @returns Their peer IDs.
   */
  topicPeers(topic: string): string[] {
    return this.#running?.topics.subscribers(topic) ?? [];
  }

  /**
   * Writes this member's record (capabilities, pools, start time, addresses) to the ledger
   * and keeps it announced until the node stops. Calling it again replaces the record.
   *
   * @param capabilities Free-form capabilities, e.g. `{ models: ["llama3"] }`.
   * @param options The pools served.
   * @returns The record written.
   */
  async advertise(
    capabilities: Capabilities,
    options: AdvertiseOptions = {},
  ): Promise<MemberRecord> {
    const { directory } = await this.#ensure("advertise");
    this.#advertised = { capabilities, options };
    return await directory.advertise(capabilities, options);
  }

  /**
   * Finds online members matching a query: every field given must match, and each must answer
   * a ping now (or have answered a heartbeat recently). Fastest first.
   *
   * @param query Pool, capabilities, latency and uptime bounds, limit.
   * @returns The matches, with their measured round-trip time.
   */
  async findPeers(query: PeerQuery = {}): Promise<PeerMatch[]> {
    const { directory } = await this.#ensure("find peers");
    return await directory.findPeers(query);
  }

  /**
   * Denies a peer: its connections are closed, it cannot connect again, and its messages are
   * refused, until {@linkcode P2PNode.allow}.
   *
   * @param peerId The peer.
   */
  async deny(peerId: string): Promise<void> {
    this.#trust.deny(peerId);
    const node = this.#running?.network.node;
    if (node !== undefined) await node.hangUp(peerIdFromString(peerId)).catch(() => {});
  }

  /**
   * Removes a peer from the deny list (the gate still applies).
   *
   * @param peerId The peer.
   */
  allow(peerId: string): void {
    this.#trust.allow(peerId);
  }

  /**
   * The deny list.
   *
   * @returns The denied peer IDs.
   */
  denied(): string[] {
    return this.#trust.denied;
  }

  /**
   * Signs a message frame addressed to `peer` without sending it; with
   * {@linkcode P2PNode.sendFrame}, for tools and for testing the receiving side.
   *
   * @param peer The recipient's peer ID.
   * @param type The message type.
   * @param payload A JSON value, or bytes.
   * @param options Kind, timestamp and nonce to sign instead of the node's choice.
   * @returns The frame's bytes.
   */
  async encodeMessage(
    peer: string,
    type: string,
    payload: unknown,
    options?: EncodeMessageOptions,
  ): Promise<Uint8Array> {
    const { protocol } = await this.#ensure("encode message");
    return await protocol.encodeMessage(peer, type, payload, options);
  }

  /**
   * Sends frame bytes verbatim (one attempt, no retry) and interprets the answer as `send` and
   * `request` do: sending the same bytes twice shows replay protection at work.
   *
   * @param peer The peer ID.
   * @param frame The frame bytes.
   * @param options Time-out, abort signal.
   * @returns The response payload (`undefined` for an acknowledgement).
   */
  async sendFrame(peer: string, frame: Uint8Array, options?: SendOptions): Promise<unknown> {
    const { protocol } = await this.#ensure("send frame");
    return await protocol.sendFrame(peer, frame, options);
  }

  /**
   * Traffic and health counters: connected peers with their RTT, messages and bytes per type
   * and topic each way, rejections by reason, request latency percentiles, redials.
   *
   * @returns A snapshot.
   */
  stats(): P2PNodeStats {
    const running = this.#running;
    const members = running?.directory.members() ?? new Set<string>();
    const peers = this.connectedPeers().map((peerId): PeerStats => {
      const rttMs = running?.health.health(peerId)?.rttMs;
      return { peerId, member: members.has(peerId), ...(rttMs === undefined ? {} : { rttMs }) };
    });
    return { ...this.#stats.snapshot(), peers, reconnects: running?.health.reconnects ?? 0 };
  }

  async #ensure(action: string): Promise<Running> {
    if (this.#state === "idle" || this.#state === "starting") await this.start();
    return this.#require(action);
  }

  #require(action: string): Running {
    if (this.#state !== "running" || this.#running === undefined) {
      throw new NodeNotRunningError(action);
    }
    return this.#running;
  }

  async #start(): Promise<void> {
    const options = this.#options;
    this.#privateKey ??= await generateKeyPair("Ed25519");
    const privateKey = this.#privateKey;
    const now = options.now ?? Date.now;
    const maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    const guard = new InboundGuard({
      trust: this.#trust,
      limiter: new RateLimiter({
        ...(options.rateLimit?.perPeer === undefined ? {} : { perPeer: options.rateLimit.perPeer }),
        ...(options.rateLimit?.global === undefined ? {} : { global: options.rateLimit.global }),
        now,
      }),
      replay: new ReplayCache({
        maxAgeMs: options.maxMessageAgeMs ?? DEFAULT_MAX_MESSAGE_AGE_MS,
        maxEntries: options.replayCacheSize ?? DEFAULT_REPLAY_CACHE_SIZE,
        now,
      }),
      stats: this.#stats,
    });
    let protocol: MessageProtocol | undefined;
    const network = await startNetwork({
      token: this.#token,
      privateKey,
      now,
      connectionGater: this.#trust.connectionGater(),
      ...pick(options, [
        "listen",
        "bootstrapPeers",
        "dht",
        "mdns",
        "private",
        "maxConnections",
        "syncIntervalMs",
        "announce",
        "relayService",
        "relayLimits",
        "relayPeers",
        "relayReservations",
        "natmap",
        "natService",
        "natRateLimit",
        "holepunch",
      ]),
      beforeStart: async (node) => {
        protocol = messageProtocol({
          privateKey,
          handlers: this.#handlers,
          guard,
          trust: this.#trust,
          stats: this.#stats,
          maxMessageBytes,
          now,
          ...pick(options, ["requestTimeoutMs", "retries"]),
          onMessage: (message) => {
            this.safeDispatchEvent("message", { detail: message });
          },
          onAnswer: (peerId) => health?.markUseful(peerId),
        })(node);
        await protocol.start();
      },
    });
    const { node } = network;
    let health: HealthMonitor | undefined;
    try {
      health = healthMonitor({
        bootstrapPeers: options.bootstrapPeers ?? [],
        isWatched: (peerId) => directory.members().has(peerId),
        isDenied: (peerId) => this.#trust.isDenied(peerId),
        now,
        ...(options.heartbeatIntervalMs === undefined
          ? {}
          : { intervalMs: options.heartbeatIntervalMs }),
        ...(options.reconnect === undefined ? {} : { reconnect: options.reconnect }),
      })({
        events: node,
        ping: (peer, opts) => node.services.ping.ping(peer, opts),
        getConnections: (peerId?: PeerId) => node.getConnections(peerId),
        dial: (peer, opts) => node.dial(peer, opts),
        hangUp: (peer) => node.hangUp(peer),
      });
      const directory = memberDirectory({
        bucket: options.networkId === undefined
          ? MEMBERS_BUCKET
          : `${options.networkId}_${MEMBERS_BUCKET}`,
        startedAt: network.startedAt,
        isDenied: (peerId) => this.#trust.isDenied(peerId),
        now,
      })({
        ledger: network.ledger,
        peerId: network.peerId,
        getMultiaddrs: () => node.getMultiaddrs(),
        isConnected: (peerId) => node.getConnections(peerIdFromString(peerId)).length > 0,
        health,
      });
      const topics = topicChannel({
        token: this.#token,
        privateKey,
        handlers: this.#topicHandlers,
        guard,
        stats: this.#stats,
        maxMessageBytes,
        now,
      })({ pubsub: node.services.pubsub, peerId: network.peerId });
      const onConnect = (event: CustomEvent<PeerId>): void => {
        this.safeDispatchEvent("peer:connect", { detail: { peerId: event.detail.toString() } });
      };
      const onDisconnect = (event: CustomEvent<PeerId>): void => {
        this.safeDispatchEvent("peer:disconnect", { detail: { peerId: event.detail.toString() } });
      };
      node.addEventListener("peer:connect", onConnect);
      node.addEventListener("peer:disconnect", onDisconnect);
      health.start();
      directory.start();
      topics.start();
      this.#running = {
        network,
        protocol: protocol!,
        topics,
        directory,
        health,
        detach: () => {
          node.removeEventListener("peer:connect", onConnect);
          node.removeEventListener("peer:disconnect", onDisconnect);
        },
      };
      if (this.#advertised !== undefined) {
        await directory.advertise(this.#advertised.capabilities, this.#advertised.options);
      }
    } catch (error) {
      await network.stop().catch(() => {});
      throw error;
    }
  }

  async #stop(): Promise<void> {
    const running = this.#running;
    if (running === undefined) return;
    running.detach();
    running.health.stop();
    running.directory.stop();
    await running.directory.withdraw().catch(() => {});
    running.topics.stop();
    await running.protocol.stop();
    await running.network.stop();
  }
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

function oldest(connections: Connection[]): number | undefined {
  const opened = connections.map((c) => c.timeline.open).filter((t) => typeof t === "number");
  return opened.length === 0 ? undefined : Math.min(...opened);
}

function toError(reason: unknown): Error {
  return reason instanceof Error ? reason : new Error(String(reason));
}

function pick<T extends object, K extends keyof T>(
  source: T,
  keys: readonly K[],
): { [P in K]?: Exclude<T[P], undefined> } {
  const out: { [P in K]?: Exclude<T[P], undefined> } = {};
  for (const key of keys) {
    if (source[key] !== undefined) out[key] = source[key] as Exclude<T[K], undefined>;
  }
  return out;
}

/**
 * Creates a p2p node for programs, not yet started: it starts on first use, or with
 * `start()`. It runs the same network stack as the CLI and adds messaging:
 *
 * - direct messages on `/p2p/msg/1.0.0`: `send`, `request`, `handle`, `broadcast`;
 * - topics sealed with the token: `publish`, `subscribe`;
 * - finding peers by capability: `advertise`, `findPeers`;
 * - trust and limits: `gate`, `deny`/`allow`, signed messages with replay protection,
 *   rate limits, a size limit;
 * - health: heartbeats, RTT, redials, `stats()`.
 *
 * @param options The token, network flags and messaging limits.
 * @returns The node.
 * @throws {InvalidTokenError} If the token does not decode.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { createNode } from "@p2p/p2p/messaging";
 * import { generateToken } from "@p2p/p2p/token";
 *
 * const token = generateToken();
 * const loopback = { listen: ["/ip4/127.0.0.1/tcp/0"], mdns: false, dht: false };
 * const alice = createNode({ token, ...loopback, bootstrapPeers: [] });
 * await alice.start();
 * const bob = createNode({ token, ...loopback, bootstrapPeers: alice.addresses() });
 * try {
 *   alice.handle("add", ({ payload }) => {
 *     const [a, b] = payload as [number, number];
 *     return a + b;
 *   });
 *   await bob.start();
 *   assert.equal(await bob.request(alice.peerId, "add", [2, 3]), 5);
 * } finally {
 *   await bob.stop();
 *   await alice.stop();
 * }
 * ```
 */
export function createNode(options: P2PNodeOptions): P2PNode {
  return new P2PNode(options);
}
