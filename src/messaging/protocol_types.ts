/**
 * The types of the direct-message protocol (`protocol.ts` sends, `inbound.ts` answers).
 *
 * @module
 */

import type { Connection, Libp2p, PrivateKey, Startable } from "@libp2p/interface";
import type { InboundGuard } from "./inbound_guard.ts";
import type { StatsRecorder } from "./stats.ts";
import type { TrustPolicy } from "./trust.ts";

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
  /** Waits (bounded) until a peer that opened a stream proved membership. */
  awaitMember?: (peer: string, connection: Connection) => Promise<boolean>;
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
