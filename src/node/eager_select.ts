/**
 * The serving side of a lazy multistream-select, answered as the stream opens: when a yamux
 * stream's first frame (SYN on a data frame, as `lazy_select.ts` and go-libp2p's lazy
 * openers send it) carries the whole proposal of a protocol this node handles, the muxer
 * answers it on the spot, marks the stream with the protocol and hands on only what follows
 * the proposal. libp2p then takes the stream as pre-negotiated (its `onIncomingStream` skips
 * `@libp2p/multistream-select`'s `handle`) and runs everything else as before: the per-protocol
 * inbound stream limit, the limited-connection check, the peer store, the metrics, the handler.
 *
 * `handle` reads the two lines through a length-prefixed reader built per stream (a byte
 * stream wrapper, listeners, a promise per line, an abort race) and writes two answers: in a
 * serving `p2p expose` or worker it was 7–8 % of the CPU of a tunnelled connection. The answer
 * here is the proposal echoed, which is exactly what `handle` writes (header line, then the
 * protocol line), in one piece, on the stream's first frame with its acknowledgement.
 *
 * Anything else (a proposal split across frames, `ls`, a protocol this node does not handle, a
 * SYN without data, as go-yamux opens) goes to libp2p's `handle` untouched, bytes included.
 *
 * @module
 */
import type { MessageStream, Stream, StreamMuxer, StreamMuxerFactory } from "@libp2p/interface";
import type { Uint8ArrayList } from "uint8arraylist";
import { MULTISTREAM_HEADER_LINE, multistreamProposal } from "./lazy_select.ts";
import { MULTISTREAM_MAX_PROTOCOL_BYTES } from "./constants.ts";
import { YAMUX_DATA, YAMUX_SYN, type YamuxHeader } from "./yamux_window.ts";

/** What the answer needs of libp2p's registrar: its lookup, which throws for a protocol it lacks. */
export interface ProtocolHandlers {
  /** The handler of `protocol`; throws when there is none. */
  getHandler(protocol: string): unknown;
}

/** A yamux frame as `@libp2p/yamux` 8 hands it to `handleStreamMessage`. */
interface YamuxFrame {
  header: YamuxHeader;
  data?: Uint8ArrayList;
}

/** The two methods of `@libp2p/yamux` 8's muxer the answer wraps (plain, overridable). */
interface YamuxMuxerMethods {
  handleStreamMessage(frame: YamuxFrame): void;
  onRemoteStream(stream: Stream): void;
}

const NEWLINE = 0x0a;

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** A proposal found at the front of a stream's first bytes. */
export interface Proposal {
  /** The protocol proposed. */
  protocol: string;
  /** Bytes of the proposal (header line and protocol line, with their length prefixes). */
  length: number;
}

/**
 * The multistream-select proposal at the front of `data`: the header line, then one protocol
 * line (1- or 2-byte length prefix, at most {@linkcode MULTISTREAM_MAX_PROTOCOL_BYTES}, ending
 * in a newline). `undefined` for anything else, which then goes the long way.
 *
 * @param data A stream's first received bytes.
 * @returns The protocol and the proposal's length, or `undefined`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { Uint8ArrayList } from "uint8arraylist";
 * import { proposedProtocol } from "./eager_select.ts";
 * import { multistreamProposal } from "./lazy_select.ts";
 *
 * const proposal = multistreamProposal("/echo/1.0.0");
 * const first = new Uint8ArrayList(proposal, new TextEncoder().encode("hello"));
 * assert.deepEqual(proposedProtocol(first), { protocol: "/echo/1.0.0", length: proposal.length });
 * assert.equal(proposedProtocol(new Uint8ArrayList(proposal.subarray(0, 25))), undefined);
 * ```
 */
export function proposedProtocol(data: Uint8ArrayList): Proposal | undefined {
  const headerBytes = MULTISTREAM_HEADER_LINE.byteLength;
  const available = Math.min(data.byteLength, headerBytes + 2 + MULTISTREAM_MAX_PROTOCOL_BYTES);
  if (available < headerBytes + 2) return undefined;
  // One chunk in practice (a decrypted noise message): a view, not a copy.
  const head = data.subarray(0, available);
  for (let i = 0; i < headerBytes; i++) {
    if (head[i] !== MULTISTREAM_HEADER_LINE[i]) return undefined;
  }
  let offset = headerBytes;
  let lineBytes = head[offset++]!;
  if (lineBytes >= 0x80) {
    const high = head[offset++]!;
    if (high >= 0x80) return undefined;
    lineBytes = (lineBytes & 0x7f) | (high << 7);
  }
  // A protocol of one byte at least, then the newline.
  if (lineBytes < 2 || lineBytes > MULTISTREAM_MAX_PROTOCOL_BYTES) return undefined;
  const end = offset + lineBytes;
  if (end > head.byteLength || head[end - 1] !== NEWLINE) return undefined;
  let protocol: string;
  try {
    protocol = utf8.decode(head.subarray(offset, end - 1));
  } catch {
    return undefined;
  }
  return { protocol, length: end };
}

/** Whether `registrar` has a handler for `protocol` (what `handle` would accept). */
function handles(registrar: ProtocolHandlers, protocol: string): boolean {
  try {
    registrar.getHandler(protocol);
    return true;
  } catch {
    return false;
  }
}

/**
 * Answers the proposal in `frame` for `stream` if it is whole and handled: marks the stream,
 * sends the answer, and drops the proposal from the frame's data before the stream gets it.
 */
function answerProposal(stream: Stream, frame: YamuxFrame, registrar: ProtocolHandlers): void {
  const data = frame.data;
  if (data === undefined || stream.protocol !== "") return;
  const proposal = proposedProtocol(data);
  if (proposal === undefined || !handles(registrar, proposal.protocol)) return;
  stream.protocol = proposal.protocol;
  data.consume(proposal.length);
  stream.send(multistreamProposal(proposal.protocol));
}

/** Gives one muxer the eager answer; a muxer of another shape is left as it is. */
function answerEagerly(muxer: StreamMuxer, registrar: ProtocolHandlers): void {
  const methods = muxer as unknown as YamuxMuxerMethods;
  const handleStreamMessage = methods.handleStreamMessage;
  const onRemoteStream = methods.onRemoteStream;
  if (typeof handleStreamMessage !== "function" || typeof onRemoteStream !== "function") return;
  // The frame whose SYN is being handled: the muxer creates the stream (onRemoteStream,
  // which tells libp2p) before it delivers the frame's data to it.
  let opening: YamuxFrame | undefined;
  methods.handleStreamMessage = function (frame) {
    const { type, flag } = frame.header;
    if (type !== YAMUX_DATA || (flag & YAMUX_SYN) === 0 || frame.data === undefined) {
      handleStreamMessage.call(this, frame);
      return;
    }
    opening = frame;
    try {
      handleStreamMessage.call(this, frame);
    } finally {
      opening = undefined;
    }
  };
  methods.onRemoteStream = function (stream) {
    const frame = opening;
    opening = undefined;
    if (frame !== undefined) answerProposal(stream, frame, registrar);
    onRemoteStream.call(this, stream);
  };
}

/** What {@linkcode eagerSelect} reads from libp2p's components. */
export interface EagerSelectComponents {
  /** The protocols this node handles. */
  registrar: ProtocolHandlers;
}

/**
 * Wraps a yamux muxer factory so that its muxers answer a stream's proposal as the stream
 * opens (see the module documentation).
 *
 * @param muxer The muxer factory, as `streamMuxers` takes it (`yamux({...})`).
 * @returns The same factory with the eager answer.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { yamux } from "@libp2p/yamux";
 * import { eagerSelect } from "./eager_select.ts";
 *
 * const factory = eagerSelect(yamux());
 * assert.equal(typeof factory, "function");
 * ```
 */
export function eagerSelect<C extends object>(
  muxer: (components: C) => StreamMuxerFactory,
): (components: C & EagerSelectComponents) => StreamMuxerFactory {
  return (components) => {
    const factory = muxer(components);
    return {
      protocol: factory.protocol,
      createStreamMuxer(maConn: MessageStream): StreamMuxer {
        const created = factory.createStreamMuxer(maConn);
        answerEagerly(created, components.registrar);
        return created;
      },
    };
  };
}
