import {
  type GossipSub,
  type Message,
  type SubscriptionChangeData,
  TopicValidatorResult,
} from "@libp2p/gossipsub";
import type { PeerId } from "@libp2p/interface";
import { getLogger } from "@logtape/logtape";
import { sealKeyAt, topicAt } from "../token/derive.ts";
import type { NetworkToken } from "../token/token.ts";
import type { Block } from "./block.ts";
import type { BlockDelivery } from "./block_delivery.ts";
import {
  GRAFT_SYNC_WINDOW_MS,
  MAX_BLOCK_BYTES,
  ROTATION_GRACE_S,
  TOPIC_CHECK_INTERVAL_MS,
} from "./constants.ts";
import {
  decodeEnvelope,
  encodeEnvelope,
  GossipMessageError,
  type GossipRejection,
} from "./envelope.ts";
import { LedgerWriteError } from "./errors.ts";

const log = getLogger(["p2p", "ledger", "hub"]);

/** Options of a {@linkcode LedgerHub}. */
export interface LedgerHubInit {
  /** The node's gossipsub service. */
  pubsub: GossipSub;
  /** The network token: room, crypto secret and rotation interval. */
  token: NetworkToken;
  /** Largest gossip payload the hub sends, in bytes. */
  maxMessageBytes: number;
  /**
   * Largest gossip payload the hub accepts, in bytes: what the token allows, as Go peers send
   * up to it. @default {token.maxMessageSize}
   */
  maxInboundBytes?: number;
  /** The clock, in milliseconds since the epoch. @default {Date.now} */
  now?: () => number;
  /** Seconds around a rotation during which the neighbouring topics stay in use. @default {15} */
  graceS?: number;
  /**
   * Sends blocks to single peers (see {@linkcode LedgerHub.sendTo}); its owner starts and
   * stops it. Without it every block is gossiped.
   */
  delivery?: BlockDelivery;
}

/**
 * Receives the blocks peers send: `from` is the author, `direct` whether the block was
 * delivered to this node alone rather than gossiped to the network.
 */
export type BlockHandler = (block: Block, from: string, direct: boolean) => void;
/**
 * Told about every gossip message the hub dropped, and why: `from` is its author (the signer),
 * `via` the peer that sent it to this node.
 */
export type RejectHandler = (reason: GossipRejection, from: string, via: string) => void;

/**
 * The sealed gossip channel of the ledger, as edgevpn's hub: blocks travel as
 * `{"Message": hex(seal(gzip(json(block)))), "SenderID": "", "Annotations": null}` on a
 * topic and with a key that both rotate with the token's crypto interval.
 *
 * Unlike edgevpn it never has a gap at a rotation: it stays subscribed to the previous and
 * the next topic (with their keys) for a grace window around each boundary, so publishes near
 * the boundary and peers whose clocks are a few seconds off are still heard. And it checks
 * every message (unseal, gunzip, parse, hash) before gossipsub forwards it: junk from an
 * outsider stops at the first p2p node instead of reaching every member. Given a
 * {@linkcode BlockDelivery}, it also sends a block to single peers ({@linkcode LedgerHub.sendTo})
 * and checks the blocks they send it the same way.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { LedgerHub } from "./hub.ts";
 * import { LedgerWriteError, startNetwork } from "@p2p/p2p";
 * import { generateTokenConfig } from "../token/token.ts";
 *
 * const token = generateTokenConfig();
 * const network = await startNetwork({
 *   token,
 *   listen: ["/ip4/127.0.0.1/tcp/0"],
 *   bootstrapPeers: [],
 *   mdns: false,
 * });
 * try {
 *   // The network's hub seals blocks for one of the topics it listens on.
 *   const { topic } = network.hub.encode(network.ledger.block);
 *   assert.ok(network.hub.topics.includes(topic));
 *   // A hub with a tiny gossip limit refuses the same block.
 *   const pubsub = network.node.services.pubsub;
 *   const tiny = new LedgerHub({ pubsub, token, maxMessageBytes: 16 });
 *   assert.throws(() => tiny.encode(network.ledger.block), LedgerWriteError);
 * } finally {
 *   await network.stop();
 * }
 * ```
 */
export class LedgerHub {
  #init: Required<Omit<LedgerHubInit, "delivery">>;
  #delivery: BlockDelivery | undefined;
  #decoded = new WeakMap<Message, Block>();
  #topics = new Map<string, string>(); // topic → seal key
  #timer: ReturnType<typeof setInterval> | undefined;
  #blockHandlers: BlockHandler[] = [];
  #rejectHandlers: RejectHandler[] = [];
  #joinHandlers: ((peer: string, grafted: boolean) => void)[] = [];
  #lastEncoded: { block: Block; sealKey: string; payload: Uint8Array } | undefined;
  /** The last block this hub sent or received, and when it first did. */
  #newest: { hash: string; at: number } | undefined;

  /**
   * Creates a hub; it subscribes to nothing until {@linkcode LedgerHub.start}.
   *
   * @param init The pubsub service, token and limits.
   */
  constructor(init: LedgerHubInit) {
    this.#init = {
      now: Date.now,
      graceS: ROTATION_GRACE_S,
      maxInboundBytes: init.token.maxMessageSize,
      ...init,
    };
    this.#delivery = init.delivery;
    this.#delivery?.onPayload(this.#onDelivered);
  }

  /** Subscribes to the current topics and starts following rotations. */
  start(): void {
    if (this.#timer !== undefined) return;
    this.#init.pubsub.addEventListener("message", this.#onMessage);
    this.#init.pubsub.addEventListener("subscription-change", this.#onSubscriptionChange);
    this.#init.pubsub.addEventListener("gossipsub:graft", this.#onGraft);
    this.#refreshTopics();
    this.#timer = setInterval(() => this.#refreshTopics(), TOPIC_CHECK_INTERVAL_MS);
  }

  /** Unsubscribes from every topic. */
  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#init.pubsub.removeEventListener("message", this.#onMessage);
    this.#init.pubsub.removeEventListener("subscription-change", this.#onSubscriptionChange);
    this.#init.pubsub.removeEventListener("gossipsub:graft", this.#onGraft);
    for (const topic of this.#topics.keys()) this.#unsubscribe(topic);
    this.#topics.clear();
  }

  /** The largest payload accepted from peers, in bytes. */
  get maxInboundBytes(): number {
    return this.#init.maxInboundBytes;
  }

  /** The topics the hub listens on now (the current one first). */
  get topics(): string[] {
    return [...this.#topics.keys()];
  }

  /** Calls `handler` with every valid block a peer gossips. */
  onBlock(handler: BlockHandler): void {
    this.#blockHandlers.push(handler);
  }

  /** Calls `handler` for every message dropped as malformed, with the reason. */
  onReject(handler: RejectHandler): void {
    this.#rejectHandlers.push(handler);
  }

  /**
   * Calls `handler` with the peer's ID when a peer joins a ledger topic, or joins this node's
   * mesh of one (`grafted`) within `GRAFT_SYNC_WINDOW_MS` of a new block (not debounced).
   */
  onPeerJoin(handler: (peer: string, grafted: boolean) => void): void {
    this.#joinHandlers.push(handler);
  }

  /** The peers subscribed to any of the current ledger topics. */
  peerCount(): number {
    const peers = new Set<string>();
    for (const topic of this.#topics.keys()) {
      for (const peer of this.#init.pubsub.getSubscribers(topic)) peers.add(peer.toString());
    }
    return peers.size;
  }

  /**
   * Seals `block` for the current topic.
   *
   * @throws {LedgerWriteError} The sealed block is larger than the gossip cap.
   */
  encode(block: Block): { topic: string; payload: Uint8Array } {
    const atS = this.#init.now() / 1000;
    const sealKey = sealKeyAt(this.#init.token, atS);
    const payload = encodeEnvelope(block, sealKey);
    if (payload.byteLength > this.#init.maxMessageBytes) {
      throw new LedgerWriteError(
        `Cannot write to the ledger: the sealed block would be ${payload.byteLength} bytes, above the gossip limit of ${this.#init.maxMessageBytes}`,
      );
    }
    // A write encodes its block twice, the size check then the publish, and a join turn may
    // send the same block again; gzip and the seal of a large ledger cost milliseconds. The
    // publish that follows takes this one, once (a rebroadcast must be a new message, or
    // gossipsub drops it as already seen); deliveries take it while the block is current.
    this.#lastEncoded = { block, sealKey, payload };
    return { topic: topicAt(this.#init.token, atS), payload };
  }

  /**
   * Publishes `block` on the current topic.
   *
   * @returns How many peers it was sent to.
   * @throws {LedgerWriteError} The sealed block is larger than the gossip cap.
   */
  async publish(block: Block): Promise<number> {
    const { topic, payload } = this.#encoded(block) ?? this.encode(block);
    this.#lastEncoded = undefined;
    this.#noteBlock(block);
    if (!this.#topics.has(topic)) this.#refreshTopics();
    const result = await this.#init.pubsub.publish(topic, payload);
    return result.recipients.length;
  }

  /** The last encoding made, if it is of this block and its seal key is still current. */
  #encoded(block: Block): { topic: string; payload: Uint8Array } | undefined {
    const last = this.#lastEncoded;
    const atS = this.#init.now() / 1000;
    if (last?.block !== block || last.sealKey !== sealKeyAt(this.#init.token, atS)) {
      return undefined;
    }
    return { topic: topicAt(this.#init.token, atS), payload: last.payload };
  }

  /**
   * Sends `block` to each of `peers` alone, where they take it (see `block_delivery.ts`).
   *
   * @returns The peers that did not take it: gossip the block for them.
   */
  async sendTo(block: Block, peers: readonly string[]): Promise<string[]> {
    const delivery = this.#delivery;
    if (delivery === undefined || peers.length === 0) return [...peers];
    let payload: Uint8Array;
    try {
      ({ payload } = this.#encoded(block) ?? this.encode(block));
    } catch {
      return [...peers];
    }
    const taken = await Promise.all(peers.map((peer) => delivery.send(peer, payload)));
    return peers.filter((_, i) => !taken[i]);
  }

  #refreshTopics(): void {
    const atS = this.#init.now() / 1000;
    const intervalS = this.#init.token.otp.crypto.interval;
    // The current window first, then every window that overlaps [now - grace, now + grace]:
    // with a rotation shorter than the grace, more than one window lies on each side.
    const times = [atS];
    const first = Math.floor((atS - this.#init.graceS) / intervalS);
    const last = Math.floor((atS + this.#init.graceS) / intervalS);
    for (let window = first; window <= last; window++) times.push(window * intervalS);
    const wanted = new Map<string, string>();
    for (const t of times) {
      wanted.set(topicAt(this.#init.token, t), sealKeyAt(this.#init.token, t));
    }
    for (const topic of this.#topics.keys()) {
      if (!wanted.has(topic)) this.#unsubscribe(topic);
    }
    for (const topic of wanted.keys()) {
      if (this.#topics.has(topic)) continue;
      this.#init.pubsub.topicValidators.set(topic, this.#validate);
      this.#init.pubsub.subscribe(topic);
    }
    this.#topics = wanted;
  }

  #unsubscribe(topic: string): void {
    this.#init.pubsub.topicValidators.delete(topic);
    try {
      this.#init.pubsub.unsubscribe(topic);
    } catch (err) {
      log.debug("Cannot unsubscribe from a ledger topic: {error}", { error: String(err) });
    }
  }

  /** Runs before gossipsub delivers or forwards a message: only valid blocks travel on. */
  #validate = (via: PeerId, message: Message): TopicValidatorResult => {
    const key = this.#topics.get(message.topic);
    if (key === undefined) return TopicValidatorResult.Ignore;
    const from = message.type === "signed" ? message.from.toString() : "";
    const block = this.#decode(message.data, key, from, via.toString());
    if (block === undefined) return TopicValidatorResult.Reject;
    this.#decoded.set(message, block);
    return TopicValidatorResult.Accept;
  };

  /** Opens a payload with `key` first, then the other current keys; reports a failure. */
  #decode(data: Uint8Array, key: string, from: string, via: string): Block | undefined {
    const keys = [key, ...[...this.#topics.values()].filter((k) => k !== key)];
    try {
      return decodeEnvelope(data, keys, {
        maxMessageBytes: this.#init.maxInboundBytes,
        maxBlockBytes: MAX_BLOCK_BYTES,
      });
    } catch (err) {
      const reason: GossipRejection = err instanceof GossipMessageError ? err.reason : "bad-block";
      log.debug("Dropped a ledger message from {from} via {via}: {reason}", { from, via, reason });
      for (const handler of this.#rejectHandlers) handler(reason, from, via);
      return undefined;
    }
  }

  #onDelivered = (payload: Uint8Array, from: string): boolean => {
    const current = this.#topics.values().next();
    if (current.done) return false; // not started
    const block = this.#decode(payload, current.value, from, from);
    if (block === undefined) return false;
    this.#noteBlock(block);
    for (const handler of this.#blockHandlers) handler(block, from, true);
    return true;
  };

  #onMessage = (event: CustomEvent<Message>): void => {
    const message = event.detail;
    const block = this.#decoded.get(message);
    if (block === undefined) return; // not a ledger topic, or not validated by this hub
    const from = message.type === "signed" ? message.from.toString() : "";
    this.#noteBlock(block);
    for (const handler of this.#blockHandlers) handler(block, from, false);
  };

  #noteBlock(block: Block): void {
    if (this.#newest?.hash !== block.Hash) {
      this.#newest = { hash: block.Hash, at: this.#init.now() };
    }
  }

  /** A peer that joins the mesh right after a new block passed missed it (see the window). */
  #onGraft = (event: CustomEvent<{ topic: string; peerId: { toString(): string } }>): void => {
    if (!this.#topics.has(event.detail.topic) || this.#newest === undefined) return;
    if (this.#init.now() - this.#newest.at <= GRAFT_SYNC_WINDOW_MS) {
      this.peerJoined(event.detail.peerId.toString(), true);
    }
  };

  /**
   * Tells the hub a peer may now hear the ledger (it joined a topic, or proved membership):
   * the join handlers run if the hub is started.
   *
   * @param peer The peer's ID.
   * @param grafted Whether it joined this node's mesh of a topic (see `onPeerJoin`).
   */
  peerJoined(peer: string, grafted = false): void {
    if (this.#timer === undefined) return;
    for (const handler of this.#joinHandlers) handler(peer, grafted);
  }

  #onSubscriptionChange = (event: CustomEvent<SubscriptionChangeData>): void => {
    if (event.detail.subscriptions.some((s) => s.subscribe && this.#topics.has(s.topic))) {
      this.peerJoined(event.detail.peerId.toString());
    }
  };
}
