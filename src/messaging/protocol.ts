/**
 * The direct-message protocol `/p2p/msg/1.0.0`: one signed, length-prefixed frame per
 * stream, answered by one signed frame (an acknowledgement, a response or a typed error).
 *
 * @module
 */

import type { Connection, Libp2p, PrivateKey, Startable, Stream } from "@libp2p/interface";
import { peerIdFromString } from "@libp2p/peer-id";
import { type LengthPrefixedStream, lpStream } from "@libp2p/utils";
import { getLogger } from "@logtape/logtape";
import { Uint8ArrayList } from "uint8arraylist";
import { YAMUX_MAX_STREAM_WINDOW } from "../node/constants.ts";
import {
  DEFAULT_REQUEST_RETRIES,
  DEFAULT_REQUEST_TIMEOUT_MS,
  HANDLER_TIMEOUT_MS,
  INBOUND_READ_TIMEOUT_MS,
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
  type RejectionReason,
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
import type { InboundGuard } from "./inbound_guard.ts";
import { randomNonce } from "./_nonce.ts";
import { writeVarint } from "./_varint.ts";
import { signFrame, verifyFrame } from "./signature.ts";
import type { StatsRecorder } from "./stats.ts";
import type { TrustPolicy } from "./trust.ts";

const log = getLogger(["p2p", "messaging", "protocol"]);

/**
 * Bytes a stream may buffer beyond one frame: data arrives in chunks of up to a yamux window,
 * and the length prefix is checked as soon as the first chunk is in.
 */
const READ_BUFFER_SLACK_BYTES = YAMUX_MAX_STREAM_WINDOW + 64 * 1024;

/** An inbound stream and its length-prefixed reader/writer. */
interface Channel {
  stream: Stream;
  lp: LengthPrefixedStream<Stream>;
}

/** A direct message delivered to a handler. */
export interface IncomingMessage {
  /** The sender's peer ID (verified: the connection's peer signed the message). */
  from: string;
  /** The message type. */
  type: string;
  /** The payload: a JSON value, or a `Uint8Array` if bytes were sent. */
  payload: unknown;
  /** `"send"` (one-way) or `"request"` (the handler's return value is the response). */
  kind: "send" | "request";
  /** When the sender made the message, in milliseconds since the epoch (its clock). */
  timestamp: number;
}

/**
 * Handles one message type. For a request its return value (a JSON value or bytes) is the
 * response; for a one-way message it is ignored. A throw reaches the sender as
 * `RemoteHandlerError` with the error's message.
 */
export type MessageHandler = (message: IncomingMessage) => unknown;

/** Options of `send`. */
export interface SendOptions {
  /** Bound on each attempt, from opening the stream to the answer. @default {10000} */
  timeoutMs?: number;
  /**
   * Retries after a transient failure (unreachable, timed out, rate limited), with
   * exponential backoff. A retry after a time-out may run the handler twice. @default {2}
   */
  retries?: number;
  /** Aborts the operation. */
  signal?: AbortSignal;
}

/** Options of `request`. */
export interface RequestOptions extends SendOptions {}

/** Options of `encodeMessage`: fields normally chosen by the node. */
export interface EncodeMessageOptions {
  /** `"send"` or `"request"`. @default {"send"} */
  kind?: "send" | "request";
  /** The timestamp to sign, in milliseconds since the epoch. @default {now} */
  timestamp?: number;
  /** The nonce to sign. @default {16 random bytes, base64url} */
  nonce?: string;
}

/** The parts of a libp2p node the protocol uses. */
export type MessageProtocolComponents = Pick<
  Libp2p,
  "peerId" | "handle" | "unhandle" | "dialProtocol"
>;

/** Options of the {@linkcode messageProtocol} component. */
export interface MessageProtocolInit {
  /** The node's key: it signs every frame. */
  privateKey: PrivateKey;
  /** The handlers, by message type (shared with the node, read at each message). */
  handlers: ReadonlyMap<string, MessageHandler>;
  /** The checks of incoming messages. */
  guard: InboundGuard;
  /** The deny list (outgoing messages to denied peers are refused locally). */
  trust: TrustPolicy;
  /** Where traffic is counted. */
  stats: StatsRecorder;
  /** Largest frame sent or accepted, in bytes. */
  maxMessageBytes: number;
  /** Default bound on one attempt. @default {10000} */
  requestTimeoutMs?: number;
  /** Default retries. @default {2} */
  retries?: number;
  /** Bound on a handler's answer. @default {30000} */
  handlerTimeoutMs?: number;
  /** The clock, in milliseconds since the epoch. @default {Date.now} */
  now?: () => number;
  /** Called with every message accepted, before its handler runs. */
  onMessage?: (message: IncomingMessage) => void;
  /** Called when a peer sent a valid answer (it is worth reconnecting to). */
  onAnswer?: (peerId: string) => void;
}

/** The running protocol: see {@linkcode messageProtocol}. */
export interface MessageProtocol extends Startable {
  /** Sends a one-way message; resolves when the peer's handler has run. */
  send(peer: string, type: string, payload: unknown, options?: SendOptions): Promise<void>;
  /** Sends a request; resolves with the handler's response. */
  request(peer: string, type: string, payload: unknown, options?: RequestOptions): Promise<unknown>;
  /** Signs a message frame without sending it. */
  encodeMessage(
    peer: string,
    type: string,
    payload: unknown,
    options?: EncodeMessageOptions,
  ): Promise<Uint8Array>;
  /** Sends frame bytes verbatim (one attempt) and interprets the answer. */
  sendFrame(peer: string, frame: Uint8Array, options?: SendOptions): Promise<unknown>;
}

class MessageProtocolService implements MessageProtocol {
  readonly [Symbol.toStringTag] = "@p2p/messaging-protocol";
  #init: MessageProtocolInit;
  #host: MessageProtocolComponents;
  #self: string;
  #now: () => number;
  #started = false;

  constructor(components: MessageProtocolComponents, init: MessageProtocolInit) {
    this.#host = components;
    this.#init = init;
    this.#self = components.peerId.toString();
    this.#now = init.now ?? Date.now;
  }

  isStarted(): boolean {
    return this.#started;
  }

  async start(): Promise<void> {
    if (this.#started) return;
    await this.#host.handle(MESSAGE_PROTOCOL, (stream, connection) => {
      this.#onStream(stream, connection).catch((error) => {
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

  async #onStream(stream: Stream, connection: Connection): Promise<void> {
    const from = connection.remotePeer.toString();
    const { guard, maxMessageBytes } = this.#init;
    const lp = lpStream(stream, {
      maxDataLength: maxMessageBytes,
      maxBufferSize: maxMessageBytes + READ_BUFFER_SLACK_BYTES,
    });
    const channel: Channel = { stream, lp };
    const refused = guard.admit(from);
    if (refused !== undefined) {
      const extra = refused.reason === "rate-limited" ? { retryAfterMs: refused.retryAfterMs } : {};
      return await this.#answerError(channel, from, "", "", refused.reason, extra);
    }
    let bytes: Uint8Array;
    try {
      bytes = (await lp.read({ signal: AbortSignal.timeout(INBOUND_READ_TIMEOUT_MS) })).subarray();
    } catch (error) {
      const name = error instanceof Error ? error.name : "";
      if (name === "InvalidDataLengthError" || name === "InvalidDataLengthLengthError") {
        guard.reject("too-large");
        // Drop the rest of the frame as it arrives (never buffer it), answer, then reset the
        // stream so the sender stops sending.
        lp.unwrap().addEventListener("message", () => {});
        await this.#answerError(channel, from, "", "", "too-large", { limit: maxMessageBytes });
        stream.abort(new Error("frame too large"));
        return;
      }
      throw error;
    }
    let frame: Frame;
    try {
      frame = decodeFrame(bytes);
    } catch {
      guard.reject("malformed");
      return await this.#answerError(channel, from, "", "", "malformed");
    }
    const reason = await guard.verify(frame, {
      from,
      recipient: this.#self,
      kinds: ["send", "request"],
    });
    if (reason !== undefined) {
      return await this.#answerError(channel, from, frame.type, frame.nonce, reason);
    }
    let payload: unknown;
    try {
      payload = decodePayload(frame.encoding, frame.body);
    } catch {
      guard.reject("malformed");
      return await this.#answerError(channel, from, frame.type, frame.nonce, "malformed");
    }
    const handler = this.#init.handlers.get(frame.type);
    if (handler === undefined || frame.type === "") {
      guard.reject("unknown-type");
      return await this.#answerError(channel, from, frame.type, frame.nonce, "unknown-type");
    }
    this.#init.stats.received("type", frame.type, bytes.byteLength);
    const message: IncomingMessage = {
      from,
      type: frame.type,
      payload,
      kind: frame.kind as "send" | "request",
      timestamp: frame.timestamp,
    };
    this.#init.onMessage?.(message);
    let result: unknown;
    try {
      result = await withTimeout(
        Promise.resolve().then(() => handler(message)),
        this.#init.handlerTimeoutMs ?? HANDLER_TIMEOUT_MS,
      );
    } catch (error) {
      const text = error instanceof Error ? error.message : String(error);
      return await this.#answerError(channel, from, frame.type, frame.nonce, "handler-error", {
        message: text,
      });
    }
    const answerKind = frame.kind === "request" ? "response" : "ack";
    const answerPayload = answerKind === "response" ? result : null;
    await this.#answer(channel, from, answerKind, frame.type, frame.nonce, answerPayload).catch(
      async (error) => {
        // The handler's response could not be encoded or is above the limit: say so.
        await this.#answerError(channel, from, frame.type, frame.nonce, "handler-error", {
          message: `Cannot send response: ${error instanceof Error ? error.message : error}`,
        });
      },
    );
  }

  async #answerError(
    channel: Channel,
    to: string,
    type: string,
    replyTo: string,
    code: RejectionReason | "handler-error",
    extra: Record<string, unknown> = {},
  ): Promise<void> {
    try {
      await this.#answer(channel, to, "error", type, replyTo, { code, ...extra });
    } catch (error) {
      channel.stream.abort(error instanceof Error ? error : new Error(String(error)));
    }
  }

  async #answer(
    channel: Channel,
    to: string,
    kind: "ack" | "response" | "error",
    type: string,
    replyTo: string,
    payload: unknown,
  ): Promise<void> {
    const frame = await signFrame(this.#init.privateKey, {
      kind,
      type,
      ...encodePayload(payload),
      timestamp: this.#now(),
      nonce: randomNonce(),
      recipient: to,
      replyTo,
    });
    const bytes = encodeFrame(frame);
    if (bytes.byteLength > this.#init.maxMessageBytes) {
      throw new MessageTooLargeError(type, bytes.byteLength, this.#init.maxMessageBytes);
    }
    const { stream } = channel;
    const prefix: number[] = [];
    writeVarint(bytes.byteLength, prefix);
    if (!stream.send(new Uint8ArrayList(new Uint8Array(prefix), bytes))) {
      await stream.onDrain({ signal: AbortSignal.timeout(INBOUND_READ_TIMEOUT_MS) });
    }
    await stream.close();
    if (stream.status !== "closed") {
      // The sender closes its side once it has the answer; one that does not loses the stream.
      const timer = setTimeout(() => {
        if (stream.status !== "closed") stream.abort(new Error("the sender kept the stream open"));
      }, INBOUND_READ_TIMEOUT_MS);
      Deno.unrefTimer(timer);
      stream.addEventListener("close", () => clearTimeout(timer), { once: true });
    }
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

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`handler timed out after ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
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
 * import { messageProtocol } from "@p2p/p2p/messaging";
 * assert.equal(typeof messageProtocol, "function");
 * ```
 */
export function messageProtocol(
  init: MessageProtocolInit,
): (components: MessageProtocolComponents) => MessageProtocol {
  return (components) => new MessageProtocolService(components, init);
}
