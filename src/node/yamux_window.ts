/**
 * Fewer yamux window updates: `@libp2p/yamux` 8 answers **every** data frame with a 12-byte
 * window-update frame. Each one is a noise message of its own (an encryption, a TCP write and,
 * on the other side, a read, a decryption and a dispatch through the stack): one extra
 * message per 64 KiB in a bulk transfer, and one per request in a request/response exchange.
 *
 * go-yamux (what LocalAI/edgevpn peers run) and hashicorp/yamux only send an update once the
 * window to grant reaches half of the receive window, or when flags must go out (SYN/ACK).
 * {@linkcode installYamuxWindowThreshold} gives `YamuxStream` that rule. The sender still has
 * at least half a window to send into while an update is withheld, so no stream can stall;
 * the receive-window auto-tuning (doubling while data comes within 4 RTTs) is kept, for a
 * stream that received at least {@linkcode YAMUX_GROWTH_MIN_BYTES} since its last update.
 *
 * It also lets a new outbound stream's SYN ride on its first frame instead of an empty window
 * update sent on its own (every libp2p stream starts with the dialer writing the
 * multistream-select header; the yamux spec allows SYN on a data frame, as go-yamux does).
 * One message less per tunnelled connection. {@linkcode opensStream} tells such openings apart
 * for the noise framing, which seals a serving side's acknowledgement with its protocol answer.
 *
 * @module
 */
import { StreamState, YamuxStream } from "@libp2p/yamux/stream";
import type { Uint8ArrayList } from "uint8arraylist";
import { YAMUX_GROWTH_MIN_BYTES } from "./constants.ts";

/** A yamux frame header (`@libp2p/yamux` does not export the type). */
export interface YamuxHeader {
  /** 0 data, 1 window update, 2 ping, 3 go away. */
  type: number;
  /** SYN 1, ACK 2, FIN 4, RST 8. */
  flag: number;
  /** The stream (0: the session). */
  streamID: number;
  /** Bytes of data, or the window delta, ping ID or go-away code. */
  length: number;
}

/** The private fields of `YamuxStream` the rule reads and writes (all plain JS properties). */
interface YamuxStreamFields {
  state: StreamState;
  recvWindow: number;
  recvWindowCapacity: number;
  maxStreamWindowSize: number;
  epochStart: number;
  streamId: number;
  getRTT(): number;
  getSendFlags(): number;
  sendFrame(header: YamuxHeader): boolean;
}

/** yamux frame types and flags (the spec's numbers), for the code here that reads frames. */
export const YAMUX_DATA = 0;
export const YAMUX_WINDOW_UPDATE = 1;
export const YAMUX_SYN = 0x1;
export const YAMUX_ACK = 0x2;

const INSTALLED = Symbol.for("p2p.yamuxWindowThreshold");

/**
 * `YamuxStream.prototype.sendWindowUpdate` with the go-yamux threshold. Same body as
 * `@libp2p/yamux` 8.0.3, plus the early return when the update is worth less than half the
 * receive window and carries no flags, and growth only after {@linkcode YAMUX_GROWTH_MIN_BYTES}.
 */
function sendWindowUpdate(this: YamuxStreamFields): void {
  if (this.state === StreamState.Init && this.recvWindowCapacity >= this.recvWindow) {
    // A new outbound stream with no window to grant: its SYN goes with its first frame (a
    // libp2p stream always starts with the dialer's multistream-select header) instead of
    // an empty window update of its own.
    return;
  }
  if (this.state === StreamState.Paused) {
    // No window for a paused reader (its backpressure); the epoch restarts on resume.
    this.epochStart = Date.now();
    return;
  }
  const flags = this.getSendFlags();
  const now = Date.now();
  const rtt = this.getRTT();
  const used = this.recvWindow - this.recvWindowCapacity;
  if (
    flags === 0 && rtt > -1 && now - this.epochStart <= rtt * 4 &&
    used >= YAMUX_GROWTH_MIN_BYTES
  ) {
    // The window was consumed within 4 round trips: let it grow. Not for a few small frames:
    // their growth made every one of a fresh stream's first frames (protocol lines, a
    // request, an answer) "due", a window update of its own for each.
    this.recvWindow = Math.min(this.recvWindow * 2, this.maxStreamWindowSize);
  }
  const delta = this.recvWindow - this.recvWindowCapacity;
  if (flags === 0 && delta < this.recvWindow / 2) return;
  this.recvWindowCapacity = this.recvWindow;
  this.epochStart = now;
  this.sendFrame({
    type: YAMUX_WINDOW_UPDATE,
    flag: flags,
    streamID: this.streamId,
    length: delta,
  });
}

/**
 * Installs the go-yamux window-update threshold on every yamux stream of this process
 * (idempotent). Wire-compatible: peers see fewer, larger window updates.
 *
 * @returns Whether it is installed (false if `@libp2p/yamux` changed shape: the stock
 * behaviour is then kept).
 */
export function installYamuxWindowThreshold(): boolean {
  const proto = YamuxStream.prototype as unknown as Record<PropertyKey, unknown>;
  if (proto[INSTALLED] === true) return true;
  if (typeof proto.sendWindowUpdate !== "function" || typeof proto.getSendFlags !== "function") {
    return false;
  }
  proto.sendWindowUpdate = sendWindowUpdate;
  proto[INSTALLED] = true;
  return true;
}

/** yamux flags of a stream's opening. */
const OPENING_FLAGS = YAMUX_SYN | YAMUX_ACK;

/**
 * Whether yamux bytes begin with a frame that opens a stream (SYN or ACK set): on the serving
 * side the acknowledgement is followed, in the same turn, by the two lines of the protocol
 * answer. For `framedNoise`'s `holdsTurn`, which seals them together; data and window updates
 * are sealed at once. A guess only (the bytes need not start a frame): a wrong one changes
 * when bytes are sealed, never what.
 *
 * @param data What the muxer sends: a frame (12-byte header first) or several.
 * @returns Whether to hold it to the end of the turn.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { Uint8ArrayList } from "uint8arraylist";
 * import { opensStream } from "./yamux_window.ts";
 *
 * // version 0, type 1 (window update), flags ACK, stream 3, delta 42
 * const ack = Uint8Array.of(0, 1, 0, 2, 0, 0, 0, 3, 0, 0, 0, 42);
 * assert.equal(opensStream(new Uint8ArrayList(ack)), true);
 * // plain data, 5 bytes
 * const data = Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 5, 104, 101, 108, 108, 111);
 * assert.equal(opensStream(new Uint8ArrayList(data)), false);
 * ```
 */
export function opensStream(data: Uint8ArrayList): boolean {
  return data.byteLength >= 4 && (data.get(3) & OPENING_FLAGS) !== 0;
}
