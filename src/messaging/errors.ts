/**
 * Errors of the messaging layer. Callers match on the class (or on `name`), never on the
 * message text.
 *
 * @module
 */

/**
 * Why an incoming message was refused. The receiver counts each one in `stats().rejected`;
 * the sender of a direct message gets it back as a typed error.
 *
 * - `too-large`: the frame exceeds the receiver's size limit (checked from the length prefix).
 * - `malformed`: the frame cannot be decoded.
 * - `bad-signature`: the signature does not verify.
 * - `wrong-sender`: the frame is signed by another peer than the one that sent it.
 * - `wrong-recipient`: the frame is addressed to another peer or topic.
 * - `stale`: the timestamp is outside the accepted age window.
 * - `replay`: the nonce was already seen.
 * - `rate-limited`: the sender (or everyone together) sent too much.
 * - `denied`: the sender is on the deny list.
 * - `unknown-type`: no handler for the message type.
 * - `bad-seal`: a topic message that does not open with the topic key (not a member).
 */
export type RejectionReason =
  | "too-large"
  | "malformed"
  | "bad-signature"
  | "wrong-sender"
  | "wrong-recipient"
  | "stale"
  | "replay"
  | "rate-limited"
  | "denied"
  | "not-member"
  | "unknown-type"
  | "bad-seal";

/**
 * Base class of every error the messaging layer throws, to catch them all at once.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { MessagingError, RequestTimeoutError } from "@p2p/p2p";
 *
 * const error = new RequestTimeoutError("12D3KooWPeer", "echo", 100);
 * assert.ok(error instanceof MessagingError);
 * ```
 */
export class MessagingError extends Error {
  /**
   * Constructs a new instance.
   *
   * @param message The error message.
   * @param options The underlying `cause`, if any.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "MessagingError";
  }
}

/**
 * Thrown when an operation needs a running node and the node was stopped.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { NodeNotRunningError } from "@p2p/p2p";
 *
 * const error = new NodeNotRunningError("send message");
 * assert.equal(error.message, "Cannot send message: node is not running");
 * ```
 */
export class NodeNotRunningError extends MessagingError {
  /**
   * Constructs a new instance.
   *
   * @param action What could not be done, e.g. `"send message"`.
   */
  constructor(action: string) {
    super(`Cannot ${action}: node is not running`);
    this.name = "NodeNotRunningError";
  }
}

/**
 * Thrown when a peer cannot be reached: no address is known, every dial failed, or it does
 * not speak the messaging protocol.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { PeerUnreachableError } from "@p2p/p2p";
 *
 * const error = new PeerUnreachableError("12D3KooWPeer", "send message");
 * assert.equal(error.message, 'Cannot send message: peer "12D3KooWPeer" is not reachable');
 * assert.equal(error.peerId, "12D3KooWPeer");
 * ```
 */
export class PeerUnreachableError extends MessagingError {
  /** The peer that could not be reached. */
  readonly peerId: string;
  /**
   * Constructs a new instance.
   *
   * @param peerId The peer.
   * @param action What could not be done, e.g. `"send message"`.
   * @param options The dial error as `cause`.
   */
  constructor(peerId: string, action: string, options?: ErrorOptions) {
    super(`Cannot ${action}: peer "${peerId}" is not reachable`, options);
    this.name = "PeerUnreachableError";
    this.peerId = peerId;
  }
}

/**
 * Thrown when sending to, or connecting to, a peer on the local deny list (or refused by the
 * gate).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { PeerDeniedError } from "@p2p/p2p";
 *
 * const error = new PeerDeniedError("12D3KooWPeer", "send message");
 * assert.equal(error.message, 'Cannot send message: peer "12D3KooWPeer" is denied');
 * ```
 */
export class PeerDeniedError extends MessagingError {
  /** The denied peer. */
  readonly peerId: string;
  /**
   * Constructs a new instance.
   *
   * @param peerId The peer.
   * @param action What could not be done.
   */
  constructor(peerId: string, action: string) {
    super(`Cannot ${action}: peer "${peerId}" is denied`);
    this.name = "PeerDeniedError";
    this.peerId = peerId;
  }
}

/**
 * Thrown when a message is larger than the limit: before sending, for the local limit, or
 * when the receiving peer refused it for its own limit.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { MessageTooLargeError } from "@p2p/p2p";
 *
 * const error = new MessageTooLargeError("upload", 2048, 1024);
 * assert.equal(
 *   error.message,
 *   'Cannot send message "upload": 2048 bytes exceed the limit of 1024 bytes',
 * );
 * ```
 */
export class MessageTooLargeError extends MessagingError {
  /** The message type (or topic). */
  readonly type: string;
  /** The size of the frame, in bytes (`-1` when the peer did not say). */
  readonly size: number;
  /** The limit that was exceeded, in bytes (`-1` when the peer did not say). */
  readonly limit: number;
  /**
   * Constructs a new instance.
   *
   * @param type The message type (or topic).
   * @param size The frame size in bytes, `-1` if unknown.
   * @param limit The limit in bytes, `-1` if unknown.
   * @param peerId The peer that refused it, when the refusal was remote.
   */
  constructor(type: string, size: number, limit: number, peerId?: string) {
    super(
      peerId === undefined
        ? `Cannot send message "${type}": ${size} bytes exceed the limit of ${limit} bytes`
        : `Cannot send message "${type}": peer "${peerId}" refused a frame above its limit${
          limit >= 0 ? ` of ${limit} bytes` : ""
        }`,
    );
    this.name = "MessageTooLargeError";
    this.type = type;
    this.size = size;
    this.limit = limit;
  }
}

/**
 * Thrown at the sender when the receiving peer has no handler for the message type.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { UnknownMessageTypeError } from "@p2p/p2p";
 *
 * const error = new UnknownMessageTypeError("12D3KooWPeer", "nope");
 * assert.equal(error.message, 'Cannot send message "nope": peer "12D3KooWPeer" has no handler for it');
 * ```
 */
export class UnknownMessageTypeError extends MessagingError {
  /** The peer that had no handler. */
  readonly peerId: string;
  /** The message type. */
  readonly type: string;
  /**
   * Constructs a new instance.
   *
   * @param peerId The peer.
   * @param type The message type.
   */
  constructor(peerId: string, type: string) {
    super(`Cannot send message "${type}": peer "${peerId}" has no handler for it`);
    this.name = "UnknownMessageTypeError";
    this.peerId = peerId;
    this.type = type;
  }
}

/**
 * Thrown at the sender when the receiving peer's handler threw (or timed out); `remoteMessage`
 * is the handler's error message.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { RemoteHandlerError } from "@p2p/p2p";
 *
 * const error = new RemoteHandlerError("12D3KooWPeer", "divide", "division by zero");
 * assert.equal(
 *   error.message,
 *   'Cannot complete message "divide": the handler of peer "12D3KooWPeer" failed: division by zero',
 * );
 * ```
 */
export class RemoteHandlerError extends MessagingError {
  /** The peer whose handler failed. */
  readonly peerId: string;
  /** The message type. */
  readonly type: string;
  /** The message of the remote error. */
  readonly remoteMessage: string;
  /**
   * Constructs a new instance.
   *
   * @param peerId The peer.
   * @param type The message type.
   * @param remoteMessage The remote error message.
   */
  constructor(peerId: string, type: string, remoteMessage: string) {
    super(
      `Cannot complete message "${type}": the handler of peer "${peerId}" failed: ${remoteMessage}`,
    );
    this.name = "RemoteHandlerError";
    this.peerId = peerId;
    this.type = type;
    this.remoteMessage = remoteMessage;
  }
}

/**
 * Thrown at the sender when the receiving peer is rate limiting it (or all peers);
 * `retryAfterMs` says when a token will be available again.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { RateLimitedError } from "@p2p/p2p";
 *
 * const error = new RateLimitedError("12D3KooWPeer", "ping", 250);
 * assert.equal(error.message, 'Cannot send message "ping": peer "12D3KooWPeer" is rate limiting, retry in 250 ms');
 * assert.equal(error.retryAfterMs, 250);
 * ```
 */
export class RateLimitedError extends MessagingError {
  /** The peer that refused. */
  readonly peerId: string;
  /** The message type. */
  readonly type: string;
  /** How long to wait before a retry can succeed, in milliseconds. */
  readonly retryAfterMs: number;
  /**
   * Constructs a new instance.
   *
   * @param peerId The peer.
   * @param type The message type.
   * @param retryAfterMs The advised wait in milliseconds.
   */
  constructor(peerId: string, type: string, retryAfterMs: number) {
    super(
      `Cannot send message "${type}": peer "${peerId}" is rate limiting, retry in ${retryAfterMs} ms`,
    );
    this.name = "RateLimitedError";
    this.peerId = peerId;
    this.type = type;
    this.retryAfterMs = retryAfterMs;
  }
}

/**
 * Thrown at the sender when the receiving peer refused the frame itself: bad signature, stale
 * timestamp, replayed nonce, wrong sender or recipient, malformed, or denied.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { MessageRejectedError } from "@p2p/p2p";
 *
 * const error = new MessageRejectedError("12D3KooWPeer", "greet", "replay");
 * assert.equal(error.message, 'Cannot send message "greet": peer "12D3KooWPeer" rejected it (replay)');
 * assert.equal(error.reason, "replay");
 * ```
 */
export class MessageRejectedError extends MessagingError {
  /** The peer that rejected the frame. */
  readonly peerId: string;
  /** The message type. */
  readonly type: string;
  /** Why it was rejected. */
  readonly reason: RejectionReason;
  /**
   * Constructs a new instance.
   *
   * @param peerId The peer.
   * @param type The message type.
   * @param reason The rejection reason.
   */
  constructor(peerId: string, type: string, reason: RejectionReason) {
    super(`Cannot send message "${type}": peer "${peerId}" rejected it (${reason})`);
    this.name = "MessageRejectedError";
    this.peerId = peerId;
    this.type = type;
    this.reason = reason;
  }
}

/**
 * Thrown when a peer did not answer in time.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { RequestTimeoutError } from "@p2p/p2p";
 *
 * const error = new RequestTimeoutError("12D3KooWPeer", "slow", 1000);
 * assert.equal(error.message, 'Cannot complete message "slow": peer "12D3KooWPeer" did not answer within 1000 ms');
 * ```
 */
export class RequestTimeoutError extends MessagingError {
  /** The silent peer. */
  readonly peerId: string;
  /** The message type. */
  readonly type: string;
  /** The bound that expired, in milliseconds. */
  readonly timeoutMs: number;
  /**
   * Constructs a new instance.
   *
   * @param peerId The peer.
   * @param type The message type.
   * @param timeoutMs The bound in milliseconds.
   */
  constructor(peerId: string, type: string, timeoutMs: number) {
    super(
      `Cannot complete message "${type}": peer "${peerId}" did not answer within ${timeoutMs} ms`,
    );
    this.name = "RequestTimeoutError";
    this.peerId = peerId;
    this.type = type;
    this.timeoutMs = timeoutMs;
  }
}

/**
 * Thrown when bytes are not a valid frame, or a peer's answer does not verify.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeFrame } from "./frame.ts";
 * import { InvalidFrameError } from "./errors.ts";
 *
 * assert.throws(() => decodeFrame(new Uint8Array([9])), InvalidFrameError);
 * ```
 */
export class InvalidFrameError extends MessagingError {
  /**
   * Constructs a new instance.
   *
   * @param message What is wrong.
   * @param options The underlying `cause`, if any.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "InvalidFrameError";
  }
}
