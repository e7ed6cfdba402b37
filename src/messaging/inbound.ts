/**
 * The answering side of `/p2p/msg/1.0.0`: one frame read per stream (bounded in size and
 * time), checked by the guard, handed to its handler, answered with one signed frame.
 *
 * @module
 */

import type { Connection, Stream } from "@libp2p/interface";
import { type LengthPrefixedStream, lpStream } from "@libp2p/utils";
import { Uint8ArrayList } from "uint8arraylist";
import { YAMUX_MAX_STREAM_WINDOW } from "../node/constants.ts";
import { HANDLER_TIMEOUT_MS, INBOUND_READ_TIMEOUT_MS } from "./constants.ts";
import { MessageTooLargeError, type RejectionReason } from "./errors.ts";
import { decodeFrame, decodePayload, encodeFrame, encodePayload, type Frame } from "./frame.ts";
import { randomNonce } from "./_nonce.ts";
import { writeVarint } from "./_varint.ts";
import { signFrame } from "./signature.ts";
import type { IncomingMessage, MessageProtocolInit } from "./protocol_types.ts";

/**
 * Bytes a stream may buffer beyond one frame: data arrives in chunks of up to a yamux window,
 * and the length prefix is checked as soon as the first chunk is in.
 */
export const READ_BUFFER_SLACK_BYTES = YAMUX_MAX_STREAM_WINDOW + 64 * 1024;

/** An inbound stream and its length-prefixed reader/writer. */
interface Channel {
  stream: Stream;
  lp: LengthPrefixedStream<Stream>;
}

/** Answers the message streams peers open to this node. */
export class InboundMessages {
  #init: MessageProtocolInit;
  #self: string;
  #now: () => number;

  /**
   * @param init The protocol's options (handlers, guard, key, limits, counters).
   * @param self This node's peer ID: the recipient every message must name.
   */
  constructor(init: MessageProtocolInit, self: string) {
    this.#init = init;
    this.#self = self;
    this.#now = init.now ?? Date.now;
  }

  /** Reads one message from `stream`, runs its handler and answers. */
  async serve(stream: Stream, connection: Connection): Promise<void> {
    const from = connection.remotePeer.toString();
    const { guard, maxMessageBytes } = this.#init;
    const lp = lpStream(stream, {
      maxDataLength: maxMessageBytes,
      maxBufferSize: maxMessageBytes + READ_BUFFER_SLACK_BYTES,
    });
    const channel: Channel = { stream, lp };
    // A new peer's first message may arrive while its membership challenge runs.
    await this.#init.awaitMember?.(from, connection);
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
