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
 * the receive-window auto-tuning (doubling within 4 RTTs) is kept as it is.
 *
 * It also lets a new outbound stream's SYN ride on its first frame instead of an empty window
 * update sent on its own (every libp2p stream starts with the dialer writing the
 * multistream-select header; the yamux spec allows SYN on a data frame, as go-yamux does).
 * One message less per tunnelled connection.
 *
 * @module
 */
import { StreamState, YamuxStream } from "@libp2p/yamux/stream";

/** A yamux frame header (`@libp2p/yamux` does not export the type). */
interface FrameHeader {
  type: number;
  flag: number;
  streamID: number;
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
  sendFrame(header: FrameHeader): boolean;
}

/** yamux frame type of a window update (the spec's 0x1). */
const WINDOW_UPDATE = 1;

const INSTALLED = Symbol.for("p2p.yamuxWindowThreshold");

/**
 * `YamuxStream.prototype.sendWindowUpdate` with the go-yamux threshold. Same body as
 * `@libp2p/yamux` 8.0.3, plus the early return when the update is worth less than half the
 * receive window and carries no flags.
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
  if (flags === 0 && this.recvWindow - this.recvWindowCapacity < this.recvWindow / 2) return;
  const now = Date.now();
  const rtt = this.getRTT();
  // The RTT is in whole milliseconds (0 on loopback): a millisecond is the finest it tells.
  if (flags === 0 && rtt > -1 && now - this.epochStart <= Math.max(rtt, 1) * 4) {
    // Half the window was consumed within 4 round trips: let it grow. Checked only once an
    // update is due (as go-yamux does): growing first made every small frame in a stream's
    // first round trips "due", an update of its own for each.
    this.recvWindow = Math.min(this.recvWindow * 2, this.maxStreamWindowSize);
  }
  const delta = this.recvWindow - this.recvWindowCapacity;
  this.recvWindowCapacity = this.recvWindow;
  this.epochStart = now;
  this.sendFrame({ type: WINDOW_UPDATE, flag: flags, streamID: this.streamId, length: delta });
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
