/**
 * The direct-message protocol `/p2p/msg/1.0.0`: one signed, length-prefixed frame per
 * stream, answered by one signed frame (an acknowledgement, a response or a typed error).
 *
 * @module
 */

import type { Stream } from "@libp2p/interface";
import { peerIdFromString } from "@libp2p/peer-id";
import { lpStream } from "@libp2p/utils";
import { getLogger } from "@logtape/logtape";
import {
  DEFAULT_REQUEST_RETRIES,
  DEFAULT_REQUEST_TIMEOUT_MS,
  MAX_MESSAGE_STREAMS,
  MESSAGE_PROTOCOL,
  RETRY_BASE_DELAY_MS,
  RETRY_MAX_DELAY_MS,
} from "./constants.ts";
import {
  InvalidFrameError,
  MessageRejectedError,
  MessageTooLargeError,
  NodeNotRunningError,
  PeerDeniedError,
  PeerUnreachableError,
  RateLimitedError,
  RemoteHandlerError,
  RequestTimeoutError,
  UnknownMessageTypeError,
} from "./errors.ts";
import { backoffDelay } from "../node/backoff.ts";
import {
  decodeFrame,
  decodePayload,
  encodeFrame,
  encodePayload,
  type Frame,
  type FrameKind,
} from "./frame.ts";
import { InboundMessages, READ_BUFFER_SLACK_BYTES } from "./inbound.ts";
import { randomNonce } from "./_nonce.ts";
import { signFrame, verifyFrame } from "./signature.ts";
import type {
  EncodeMessageOptions,
  MessageProtocol,
  MessageProtocolComponents,
  MessageProtocolInit,
  RequestOptions,
  SendOptions,
} from "./protocol_types.ts";

const log = getLogger(["p2p", "messaging", "protocol"]);

class MessageProtocolService implements MessageProtocol {
  readonly [Symbol.toStringTag] = "@p2p/messaging-protocol";
  #init: MessageProtocolInit;
  #host: MessageProtocolComponents;
  #self: string;
  #now: () => number;
  #started = false;
  #inbound: InboundMessages;

  constructor(components: MessageProtocolComponents, init: MessageProtocolInit) {
    this.#host = components;
    this.#init = init;
    this.#self = components.peerId.toString();
    this.#now = init.now ?? Date.now;
    this.#inbound = new InboundMessages(init, this.#self);
  }

  isStarted(): boolean {
    return this.#started;
  }

  async start(): Promise<void> {
    if (this.#started) return;
    await this.#host.handle(MESSAGE_PROTOCOL, (stream, connection) => {
      this.#inbound.serve(stream, connection).catch((error) => {
        log.debug("Message stream failed: {error}", { error: String(error) });
        stream.abort(error instanceof Error ? error : new Error(String(error)));
      });
    }, {
      maxInboundStreams: MAX_MESSAGE_STREAMS,
      maxOutboundStreams: MAX_MESSAGE_STREAMS,
      runOnLimitedConnection: true,
    });
    this.#started = true;
  }

  async stop(): Promise<void> {
    if (!this.#started) return;
    this.#started = false;
    await this.#host.unhandle(MESSAGE_PROTOCOL).catch(() => {});
  }

  async send(
    peer: string,
    type: string,
    payload: unknown,
    options: SendOptions = {},
  ): Promise<void> {
    await this.#withRetries(peer, "send", type, payload, options);
  }

  async request(
    peer: string,
    type: string,
    payload: unknown,
    options: RequestOptions = {},
  ): Promise<unknown> {
    const started = performance.now();
    const response = await this.#withRetries(peer, "request", type, payload, options);
    this.#init.stats.latency(performance.now() - started);
    return response;
  }

  async encodeMessage(
    peer: string,
    type: string,
    payload: unknown,
    options: EncodeMessageOptions = {},
  ): Promise<Uint8Array> {
    const frame = await signFrame(this.#init.privateKey, {
      kind: options.kind ?? "send",
      type,
      ...encodePayload(payload),
      timestamp: options.timestamp ?? this.#now(),
      nonce: options.nonce ?? randomNonce(),
      recipient: peer,
      replyTo: "",
    });
    return encodeFrame(frame);
  }

  async sendFrame(peer: string, frame: Uint8Array, options: SendOptions = {}): Promise<unknown> {
    let type = "";
    let nonce = "";
    let kind: FrameKind = "send";
    try {
      ({ type, nonce, kind } = decodeFrame(frame));
    } catch {
      // Sent anyway: the peer decides (this is how malformed frames are tested).
    }
    return await this.#exchange(peer, kind, type, nonce, frame, options);
  }

  async #withRetries(
    peer: string,
    kind: "send" | "request",
    type: string,
    payload: unknown,
    options: SendOptions,
  ): Promise<unknown> {
    const retries = options.retries ?? this.#init.retries ?? DEFAULT_REQUEST_RETRIES;
    for (let attempt = 0;; attempt++) {
      try {
        const nonce = randomNonce();
        const bytes = await this.encodeMessage(peer, type, payload, { kind, nonce });
        if (bytes.byteLength > this.#init.maxMessageBytes) {
          throw new MessageTooLargeError(type, bytes.byteLength, this.#init.maxMessageBytes);
        }
        return await this.#exchange(peer, kind, type, nonce, bytes, options);
      } catch (error) {
        if (attempt >= retries || !isTransient(error) || options.signal?.aborted) throw error;
        const wait = Math.max(
          backoffDelay(attempt, { baseMs: RETRY_BASE_DELAY_MS, maxMs: RETRY_MAX_DELAY_MS }),
          error instanceof RateLimitedError ? error.retryAfterMs : 0,
        );
        log.debug("Retrying {type} to {peer} in {wait} ms: {error}", {
          type,
          peer,
          wait,
          error: String(error),
        });
        await sleep(wait, options.signal);
      }
    }
  }

  async #exchange(
    peer: string,
    kind: FrameKind,
    type: string,
    nonce: string,
    bytes: Uint8Array,
    options: SendOptions,
  ): Promise<unknown> {
    if (!this.#started) throw new NodeNotRunningError(`send message "${type}"`);
    if (this.#init.trust.isDenied(peer)) throw new PeerDeniedError(peer, `send message "${type}"`);
    const timeoutMs = options.timeoutMs ?? this.#init.requestTimeoutMs ??
      DEFAULT_REQUEST_TIMEOUT_MS;
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = options.signal === undefined
      ? timeout
      : AbortSignal.any([options.signal, timeout]);
    const fail = (error: unknown): Error => {
      if (options.signal?.aborted) return options.signal.reason;
      if (timeout.aborted) return new RequestTimeoutError(peer, type, timeoutMs);
      const name = error instanceof Error ? error.name : "";
      if (name === "InvalidDataLengthError" || name === "InvalidDataLengthLengthError") {
        return new InvalidFrameError(`Cannot read answer of peer "${peer}": frame too large`);
      }
      return new PeerUnreachableError(peer, `send message "${type}"`, { cause: error });
    };
    let stream: Stream;
    try {
      stream = await this.#host.dialProtocol(peerIdFromString(peer), MESSAGE_PROTOCOL, {
        signal,
        maxOutboundStreams: MAX_MESSAGE_STREAMS,
        runOnLimitedConnection: true,
      });
    } catch (error) {
      throw fail(error);
    }
    let answer: Uint8Array;
    try {
      const lp = lpStream(stream, {
        maxDataLength: this.#init.maxMessageBytes,
        maxBufferSize: this.#init.maxMessageBytes + READ_BUFFER_SLACK_BYTES,
      });
      // Read while writing: a peer may refuse early (rate limited, too large) without reading.
      const reading = lp.read({ signal });
      reading.catch(() => {});
      await lp.write(bytes, { signal }).catch(() => {});
      this.#init.stats.sent("type", type, bytes.byteLength);
      answer = (await reading).subarray();
    } catch (error) {
      stream.abort(error instanceof Error ? error : new Error(String(error)));
      throw fail(error);
    }
    stream.close().catch((error) => stream.abort(error));
    return await this.#interpret(peer, kind, type, nonce, answer);
  }

  async #interpret(
    peer: string,
    kind: FrameKind,
    type: string,
    nonce: string,
    bytes: Uint8Array,
  ): Promise<unknown> {
    const bad = (what: string): InvalidFrameError =>
      new InvalidFrameError(`Cannot read answer of peer "${peer}": ${what}`);
    let frame: Frame;
    try {
      frame = decodeFrame(bytes);
    } catch (error) {
      throw bad(error instanceof Error ? error.message : "malformed");
    }
    const { valid, signer } = await verifyFrame(frame);
    if (signer !== peer) throw bad("signed by another peer");
    if (!valid) throw bad("bad signature");
    if (frame.recipient !== this.#self) throw bad("addressed to another peer");
    if (frame.replyTo !== nonce && !(frame.kind === "error" && frame.replyTo === "")) {
      throw bad("answers another message");
    }
    const expected = kind === "request" ? "response" : "ack";
    if (frame.kind !== "error" && frame.kind !== expected) throw bad(`unexpected ${frame.kind}`);
    this.#init.onAnswer?.(peer);
    const payload = decodePayload(frame.encoding, frame.body);
    if (frame.kind === "error") throw remoteError(peer, type, payload);
    return frame.kind === "ack" ? undefined : payload;
  }
}

function remoteError(peer: string, type: string, payload: unknown): Error {
  const body = (typeof payload === "object" && payload !== null ? payload : {}) as Record<
    string,
    unknown
  >;
  const code = String(body.code ?? "");
  switch (code) {
    case "unknown-type":
      return new UnknownMessageTypeError(peer, type);
    case "handler-error":
      return new RemoteHandlerError(peer, type, String(body.message ?? "unknown error"));
    case "rate-limited":
      return new RateLimitedError(peer, type, numberOr(body.retryAfterMs, 1000));
    case "too-large":
      return new MessageTooLargeError(type, -1, numberOr(body.limit, -1), peer);
    case "malformed":
    case "bad-signature":
    case "wrong-sender":
    case "wrong-recipient":
    case "stale":
    case "replay":
    case "denied":
      return new MessageRejectedError(peer, type, code);
    default:
      return new InvalidFrameError(`Cannot read answer of peer "${peer}": unknown error code`);
  }
}

function numberOr(value: unknown, fallback: number): number {
  return typeof value === "number" && Number.isFinite(value) ? value : fallback;
}

function isTransient(error: unknown): boolean {
  return error instanceof PeerUnreachableError || error instanceof RequestTimeoutError ||
    error instanceof RateLimitedError;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * The direct-message protocol as a component of a libp2p node (in the style of
 * `ping(init)`): registered on `/p2p/msg/1.0.0` at `start()`. Used by `createNode`; use it
 * directly only to add messaging to a node assembled by other means.
 *
 * @param init The key, handlers, checks, counters and limits.
 * @returns A factory taking the node's parts.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { messageProtocol } from "./protocol.ts";
 * assert.equal(typeof messageProtocol, "function");
 * ```
 */
export function messageProtocol(
  init: MessageProtocolInit,
): (components: MessageProtocolComponents) => MessageProtocol {
  return (components) => new MessageProtocolService(components, init);
}
