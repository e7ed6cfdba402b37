/**
 * `createNode`: a p2p node for programs that talk to each other. A facade over one
 * {@linkcode Network} (the same runtime the CLI runs: libp2p, membership, liveness, the sealed
 * ledger) with a {@linkcode Messaging} component added.
 *
 * @module
 */

import { generateKeyPairSync } from "node:crypto";
import { Buffer } from "node:buffer";
import { privateKeyFromRaw } from "@libp2p/crypto/keys";
import type { PrivateKey } from "@libp2p/interface";
import { TypedEvents } from "../network/typed_events.ts";
import { peerIdFromPrivateKey, peerIdFromString } from "@libp2p/peer-id";
import type { Network } from "../network/network.ts";
import { startNetwork } from "../network/network.ts";
import { decodeToken, type NetworkToken } from "../token/token.ts";
import type { Capabilities } from "./capabilities.ts";
import type { AdvertiseOptions } from "./directory.ts";
import { NodeNotRunningError } from "./errors.ts";
import type { MemberRecord } from "./member_record.ts";
import { type BroadcastResult, Messaging, type MessagingStats } from "./messaging.ts";
import type { P2PNodeOptions } from "./options.ts";
import type { PeerMatch, PeerQuery } from "./peer_query.ts";
import type {
  EncodeMessageOptions,
  IncomingMessage,
  MessageHandler,
  RequestOptions,
  SendOptions,
} from "./protocol_types.ts";
import { StatsRecorder } from "./stats.ts";
import type { TopicHandler } from "./topics.ts";
import { TrustPolicy } from "./trust.ts";

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
  /** Whether the peer proved it holds the token. */
  member: boolean;
  /** Known addresses. */
  addresses: string[];
  /** Protocols it speaks (from identify). */
  protocols: string[];
  /** Its agent version (from identify). */
  agent?: string;
  /** The last round trip to it, in ms. */
  rttMs?: number;
  /** When its oldest open connection opened, in ms since the epoch. */
  connectedSince?: number;
}

/**
 * A p2p node for programs (see {@linkcode createNode}). Its peer ID is known at once; the
 * network starts with `start()`, or on the first call that needs it.
 */
export class P2PNode extends TypedEvents<P2PNodeEvents> implements AsyncDisposable {
  readonly #options: P2PNodeOptions;
  readonly #privateKey: PrivateKey;
  readonly #handlers = new Map<string, MessageHandler>();
  readonly #subscriptions: [string, TopicHandler, (off: () => void) => void][] = [];
  readonly #trust: TrustPolicy;
  /** What this node advertised: advertised again after a restart. */
  #advertised: [Capabilities, AdvertiseOptions | undefined] | undefined;
  #starting: Promise<{ network: Network; messaging: Messaging }> | undefined;
  #running: { network: Network; messaging: Messaging } | undefined;
  #stopped = false;

  /**
   * Creates a node, not started (see {@linkcode createNode}).
   *
   * @param options The token, the network's options and messaging's.
   */
  constructor(options: P2PNodeOptions) {
    super();
    this.#options = options;
    // Decoded now: a bad token fails here, not at the first use.
    if (typeof options.token === "string") decodeToken(options.token);
    this.#privateKey = options.privateKey ?? freshKey();
    this.#trust = new TrustPolicy({
      ...(options.gate === undefined ? {} : { gate: options.gate }),
      deny: options.deny ?? [],
    });
  }

  /** The node's peer ID (its key is made at creation). */
  get peerId(): string {
    return peerIdFromPrivateKey(this.#privateKey).toString();
  }

  /** The decoded token. */
  get token(): NetworkToken {
    const token = this.#options.token;
    return typeof token === "string" ? decodeToken(token) : token;
  }

  /** The running network (its ledger, pools, services…). */
  get network(): Network {
    if (this.#running === undefined) throw new NodeNotRunningError("use the network");
    return this.#running.network;
  }

  /** Whether the node runs. */
  isRunning(): boolean {
    return this.#running !== undefined;
  }

  /** Starts the network and messaging (once; later calls wait for the first); restarts a stopped node with the same identity. */
  start(): Promise<void> {
    this.#stopped = false;
    this.#starting ??= this.#start();
    this.#starting.catch(() => (this.#starting = undefined));
    return this.#starting.then(() => {});
  }

  /** Stops messaging and the network; calls that need the network then fail until `start()`. */
  async stop(): Promise<void> {
    this.#stopped = true;
    const running = await this.#starting?.catch(() => undefined);
    this.#starting = undefined;
    this.#running = undefined;
    await running?.network.stop();
  }

  /** `await using node = createNode(…)` stops it at the end of the scope. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  /** Dialable addresses, with `/p2p/<id>` (empty before start). */
  addresses(): string[] {
    const network = this.#running?.network;
    if (network === undefined) return [];
    return network.addresses().map((a) => a.includes("/p2p/") ? a : `${a}/p2p/${this.peerId}`);
  }

  /** Connects to a multiaddr; resolves with the peer's ID once it identified. */
  async connect(address: string): Promise<string> {
    return await (await this.#messaging()).connect(address);
  }

  /** Peers with an open connection. */
  connectedPeers(): string[] {
    return this.#running?.network.node.getPeers().map(String) ?? [];
  }

  /** Peers that proved they hold the token. */
  members(): string[] {
    return this.#running?.messaging.members() ?? [];
  }

  /** What the node knows about `peerId`, or `undefined`. */
  async peerInfo(peerId: string): Promise<PeerDetails | undefined> {
    const network = this.#running?.network;
    if (network === undefined) return undefined;
    const id = peerIdFromString(peerId);
    const connections = network.node.getConnections(id);
    const stored = await network.node.peerStore.get(id).catch(() => undefined);
    if (stored === undefined && connections.length === 0) return undefined;
    const addresses = [
      ...connections.map((c) => c.remoteAddr.toString()),
      ...(stored?.addresses.map((a) => a.multiaddr.toString()) ?? []),
    ];
    const agent = stored?.metadata.get("AgentVersion");
    const rttMs = network.liveness.rttMs(peerId);
    const opened = connections.map((c) => c.timeline.open);
    return {
      peerId,
      connected: connections.length > 0,
      member: network.membership.isMember(peerId),
      addresses: [...new Set(addresses)],
      protocols: [...(stored?.protocols ?? [])],
      ...(agent === undefined ? {} : { agent: new TextDecoder().decode(agent) }),
      ...(rttMs === undefined ? {} : { rttMs }),
      ...(opened.length === 0 ? {} : { connectedSince: Math.min(...opened) }),
    };
  }

  /** Answers messages of `type` with `handler` (its return value is the response). */
  handle(type: string, handler: MessageHandler): void {
    this.#handlers.set(type, handler);
  }

  /** Stops answering messages of `type`. */
  unhandle(type: string): void {
    this.#handlers.delete(type);
  }

  /** Sends a message; resolves once the peer's handler accepted it. */
  async send(peer: string, type: string, payload: unknown, options?: SendOptions): Promise<void> {
    await (await this.#messaging()).send(peer, type, payload, options);
  }

  /** Sends a request; resolves with the handler's answer. */
  async request<T = unknown>(
    peer: string,
    type: string,
    payload: unknown,
    options?: RequestOptions,
  ): Promise<T> {
    return await (await this.#messaging()).request(peer, type, payload, options) as T;
  }

  /** Sends to every connected member. */
  async broadcast(type: string, payload: unknown, options?: SendOptions): Promise<BroadcastResult> {
    return await (await this.#messaging()).broadcast(type, payload, options);
  }

  /** Publishes on a sealed topic; resolves with the number of peers it was sent to. */
  async publish(topic: string, payload: unknown): Promise<number> {
    return await (await this.#messaging()).publish(topic, payload);
  }

  /** Calls `handler` with every message on `topic` (from now, or from start); returns the unsubscribe function. */
  subscribe(topic: string, handler: TopicHandler): () => void {
    let off: (() => void) | undefined;
    const entry: [string, TopicHandler, (o: () => void) => void] = [
      topic,
      handler,
      (o) => (off = o),
    ];
    this.#subscriptions.push(entry);
    if (this.#running !== undefined) off = this.#running.messaging.subscribe(topic, handler);
    return () => {
      const index = this.#subscriptions.indexOf(entry);
      if (index !== -1) this.#subscriptions.splice(index, 1);
      off?.();
    };
  }

  /** Members subscribed to `topic`: the peers a `publish` reaches now. */
  topicPeers(topic: string): string[] {
    return this.#running?.messaging.topicPeers(topic) ?? [];
  }

  /** Advertises this node's capabilities (a signed ledger record, refreshed). */
  async advertise(capabilities: Capabilities, options?: AdvertiseOptions): Promise<MemberRecord> {
    this.#advertised = [capabilities, options];
    return await (await this.#messaging()).advertise(capabilities, options);
  }

  /** Members matching `query` that answer, fastest first. */
  async findPeers(query: PeerQuery = {}): Promise<PeerMatch[]> {
    return await (await this.#messaging()).findPeers(query);
  }

  /** Denies a peer (connections refused, messages refused) and hangs up on it. */
  async deny(peerId: string): Promise<void> {
    await (await this.#messaging()).deny(peerId);
  }

  /** Admits a denied peer again. */
  allow(peerId: string): void {
    this.#trust.allow(peerId);
  }

  /** The denied peers. */
  denied(): string[] {
    return this.#trust.denied;
  }

  /** Encodes a signed message frame without sending it. */
  async encodeMessage(
    peer: string,
    type: string,
    payload: unknown,
    options?: EncodeMessageOptions,
  ): Promise<Uint8Array> {
    return await (await this.#messaging()).encodeMessage(peer, type, payload, options);
  }

  /** Sends an already encoded frame. */
  async sendFrame(peer: string, frame: Uint8Array, options?: SendOptions): Promise<unknown> {
    return await (await this.#messaging()).sendFrame(peer, frame, options);
  }

  /** Traffic, rejections, connected peers and their round trips, redials. */
  stats(): MessagingStats {
    return this.#running?.messaging.stats() ??
      { ...new StatsRecorder().snapshot(), peers: [], reconnects: 0 };
  }

  async #messaging(): Promise<Messaging> {
    if (this.#stopped) throw new NodeNotRunningError("use a stopped node (start() it again)");
    await this.start();
    return this.#running!.messaging;
  }

  async #start(): Promise<{ network: Network; messaging: Messaging }> {
    const network = await startNetwork({
      ...this.#options,
      privateKey: this.#privateKey,
      // Denied and gated peers are refused at the connection, before anything else.
      connectionGater: this.#trust.connectionGater(),
    });
    try {
      // The same handler map: later handle()/unhandle() calls reach the running protocol.
      const messaging = new Messaging(network, this.#options, {
        handlers: this.#handlers,
        trust: this.#trust,
        onMessage: (message) => this.safeDispatchEvent("message", { detail: message }),
      });
      await network.add(messaging);
      for (const [topic, handler, setOff] of this.#subscriptions) {
        setOff(messaging.subscribe(topic, handler));
      }
      if (this.#advertised !== undefined) await messaging.advertise(...this.#advertised);
      network.addEventListener("peer:connected", (e) => {
        this.safeDispatchEvent("peer:connect", { detail: e.detail });
      });
      network.addEventListener("peer:disconnected", (e) => {
        this.safeDispatchEvent("peer:disconnect", { detail: e.detail });
      });
      this.#running = { network, messaging };
      return this.#running;
    } catch (error) {
      await network.stop();
      throw error;
    }
  }
}

/** A fresh Ed25519 key, made synchronously so that a node's peer ID is known at creation. */
function freshKey(): PrivateKey {
  const { privateKey } = generateKeyPairSync("ed25519");
  const jwk = privateKey.export({ format: "jwk" });
  const seed = Buffer.from(jwk.d!, "base64url");
  const publicKey = Buffer.from(jwk.x!, "base64url");
  return privateKeyFromRaw(new Uint8Array([...seed, ...publicKey]));
}

/**
 * Creates a p2p node for programs, not yet started: it starts on first use, or with
 * `start()`. It runs the same network as the CLI and adds messaging:
 *
 * - direct messages on `/p2p/msg/1.0.0`: `send`, `request`, `handle`, `broadcast`;
 * - topics sealed with the token: `publish`, `subscribe`;
 * - finding members by capability: `advertise`, `findPeers`;
 * - trust and limits: `gate`, `deny`/`allow`, signed messages with replay protection,
 *   rate limits, a size limit; only peers that proved they hold the token are answered.
 *
 * @param options The token, the network's options and messaging's limits.
 * @returns The node.
 * @throws {InvalidTokenError} If the token does not decode.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { createNode, generateToken } from "@p2p/p2p";
 *
 * const token = generateToken();
 * const loopback = { listen: ["/ip4/127.0.0.1/tcp/0"], mdns: false, dht: false };
 * await using alice = createNode({ token, ...loopback, bootstrapPeers: [] });
 * alice.handle("add", ({ payload }) => {
 *   const [a, b] = payload as [number, number];
 *   return a + b;
 * });
 * await alice.start();
 * await using bob = createNode({ token, ...loopback, bootstrapPeers: alice.addresses() });
 * assert.equal(await bob.request(alice.peerId, "add", [2, 3]), 5);
 * ```
 */
export function createNode(options: P2PNodeOptions): P2PNode {
  return new P2PNode(options);
}
