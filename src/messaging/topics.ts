/**
 * Topics: publish/subscribe over gossipsub, sealed with the network token. A topic travels on
 * a gossip topic whose name is derived from the token, and every message is a signed frame
 * sealed with AES-256-GCM under a key derived from the token and the topic name.
 *
 * @module
 */

import type { GossipSub, Message } from "@libp2p/gossipsub";
import type { PeerId, PrivateKey, Startable } from "@libp2p/interface";
import { getLogger } from "@logtape/logtape";
import { gossipLimit } from "../node/create_node.ts";
import { seal, unseal } from "../token/seal.ts";
import type { NetworkToken } from "../token/token.ts";
import { MessageTooLargeError } from "./errors.ts";
import { decodeFrame, decodePayload, encodeFrame, encodePayload, type Frame } from "./frame.ts";
import type { InboundGuard } from "./inbound_guard.ts";
import { randomNonce } from "./_nonce.ts";
import { signFrame } from "./signature.ts";
import type { StatsRecorder } from "./stats.ts";
import { topicName, topicSealKey } from "../token/derive.ts";

const log = getLogger(["p2p", "messaging", "topics"]);

/** AES-GCM nonce and tag around a sealed frame, before hex encoding doubles it. */
const SEAL_OVERHEAD_BYTES = 12 + 16;

/** A topic message delivered to a subscriber. */
export interface TopicMessage {
  /** The publisher's peer ID (verified: gossipsub's signature and ours). */
  from: string;
  /** The topic name, as the application names it. */
  topic: string;
  /** The payload: a JSON value, or a `Uint8Array` if bytes were published. */
  payload: unknown;
  /** When the publisher made the message, in milliseconds since the epoch (its clock). */
  timestamp: number;
}

/** Receives a topic's messages. A throw is logged; it does not affect other subscribers. */
export type TopicHandler = (message: TopicMessage) => void | Promise<void>;

/** The parts of a libp2p node the topics use. */
export interface TopicChannelComponents {
  /** The node's gossipsub service. */
  pubsub: GossipSub;
  /** The node's peer ID. */
  peerId: PeerId;
}

/** Options of the {@linkcode topicChannel} component. */
export interface TopicChannelInit {
  /** The network token: it names and seals every topic. */
  token: NetworkToken;
  /** The node's key: it signs every message. */
  privateKey: PrivateKey;
  /** Subscribers, by topic name (shared with the node; see {@linkcode TopicChannel.sync}). */
  handlers: ReadonlyMap<string, ReadonlySet<TopicHandler>>;
  /** The checks of incoming messages. */
  guard: InboundGuard;
  /** Where traffic is counted. */
  stats: StatsRecorder;
  /** Largest frame published or accepted (before sealing), in bytes. */
  maxMessageBytes: number;
  /** The clock, in milliseconds since the epoch. @default {Date.now} */
  now?: () => number;
}

/** The running topics: see {@linkcode topicChannel}. */
export interface TopicChannel extends Startable {
  /** Subscribes to the gossip topics of every topic with a handler, and leaves the others. */
  sync(): void;
  /** Publishes to a topic; resolves with the number of peers it was sent to. */
  publish(topic: string, payload: unknown): Promise<number>;
  /** The peers known to be subscribed to a topic. */
  subscribers(topic: string): string[];
}

class TopicChannelService implements TopicChannel {
  readonly [Symbol.toStringTag] = "@p2p/messaging-topics";
  #init: TopicChannelInit;
  #pubsub: GossipSub;
  #self: string;
  #now: () => number;
  /** gossip name → topic, for the topics subscribed. */
  #subscribed = new Map<string, string>();
  #started = false;

  constructor(components: TopicChannelComponents, init: TopicChannelInit) {
    this.#init = init;
    this.#pubsub = components.pubsub;
    this.#self = components.peerId.toString();
    this.#now = init.now ?? Date.now;
  }

  isStarted(): boolean {
    return this.#started;
  }

  start(): void {
    if (this.#started) return;
    this.#started = true;
    this.#pubsub.addEventListener("message", this.#onMessage);
    this.sync();
  }

  stop(): void {
    if (!this.#started) return;
    this.#started = false;
    this.#pubsub.removeEventListener("message", this.#onMessage);
    for (const name of this.#subscribed.keys()) this.#unsubscribe(name);
    this.#subscribed.clear();
  }

  sync(): void {
    if (!this.#started) return;
    const wanted = new Map<string, string>();
    for (const [topic, handlers] of this.#init.handlers) {
      if (handlers.size > 0) wanted.set(topicName(this.#init.token, topic), topic);
    }
    for (const name of this.#subscribed.keys()) {
      if (!wanted.has(name)) this.#unsubscribe(name);
    }
    for (const name of wanted.keys()) {
      if (!this.#subscribed.has(name)) this.#pubsub.subscribe(name);
    }
    this.#subscribed = wanted;
  }

  subscribers(topic: string): string[] {
    return this.#pubsub.getSubscribers(topicName(this.#init.token, topic)).map(String);
  }

  async publish(topic: string, payload: unknown): Promise<number> {
    const { token, maxMessageBytes } = this.#init;
    const name = topicName(token, topic);
    const frame = encodeFrame(
      await signFrame(this.#init.privateKey, {
        kind: "topic",
        type: topic,
        ...encodePayload(payload),
        timestamp: this.#now(),
        nonce: randomNonce(),
        recipient: name,
        replyTo: "",
      }),
    );
    if (frame.byteLength > maxMessageBytes) {
      throw new MessageTooLargeError(topic, frame.byteLength, maxMessageBytes);
    }
    const sealed = new TextEncoder().encode(seal(topicSealKey(token, topic), frame));
    if (sealed.byteLength > gossipLimit(token)) {
      throw new MessageTooLargeError(topic, sealed.byteLength, gossipLimit(token));
    }
    const result = await this.#pubsub.publish(name, sealed);
    this.#init.stats.sent("topic", topic, frame.byteLength);
    return result.recipients.length;
  }

  #unsubscribe(name: string): void {
    try {
      this.#pubsub.unsubscribe(name);
    } catch (error) {
      log.debug("Cannot unsubscribe from a topic: {error}", { error: String(error) });
    }
  }

  #onMessage = (event: CustomEvent<Message>): void => {
    const topic = this.#subscribed.get(event.detail.topic);
    if (topic === undefined) return;
    this.#receive(topic, event.detail).catch((error) => {
      log.debug("Dropped a message of topic {topic}: {error}", { topic, error: String(error) });
    });
  };

  async #receive(topic: string, message: Message): Promise<void> {
    const { guard, token, maxMessageBytes } = this.#init;
    if (message.type !== "signed") return void guard.reject("malformed");
    const from = message.from.toString();
    if (from === this.#self) return;
    if (guard.admit(from) !== undefined) return;
    if (message.data.byteLength > 2 * (maxMessageBytes + SEAL_OVERHEAD_BYTES)) {
      return void guard.reject("too-large");
    }
    let bytes: Uint8Array;
    try {
      bytes = unseal(topicSealKey(token, topic), new TextDecoder().decode(message.data));
    } catch {
      return void guard.reject("bad-seal");
    }
    let frame: Frame;
    let payload: unknown;
    try {
      frame = decodeFrame(bytes);
      payload = decodePayload(frame.encoding, frame.body);
    } catch {
      return void guard.reject("malformed");
    }
    if (frame.type !== topic) return void guard.reject("wrong-recipient");
    const reason = await guard.verify(frame, {
      from,
      recipient: message.topic,
      kinds: ["topic"],
    });
    if (reason !== undefined) return;
    this.#init.stats.received("topic", topic, bytes.byteLength);
    const delivered: TopicMessage = { from, topic, payload, timestamp: frame.timestamp };
    for (const handler of this.#init.handlers.get(topic) ?? []) {
      try {
        await handler(delivered);
      } catch (error) {
        log.warning("A subscriber of topic {topic} failed: {error}", {
          topic,
          error: String(error),
        });
      }
    }
  }
}

/**
 * Sealed topics as a component over a node's gossipsub (in the style of libp2p's
 * `thing(init)` factories). Used by `createNode`.
 *
 * @param init The token, key, subscribers, checks, counters and limit.
 * @returns A factory taking the node's parts.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { topicChannel } from "./topics.ts";
 * assert.equal(typeof topicChannel, "function");
 * ```
 */
export function topicChannel(
  init: TopicChannelInit,
): (components: TopicChannelComponents) => TopicChannel {
  return (components) => new TopicChannelService(components, init);
}
