import type { Stream } from "@libp2p/interface";
import type { ByteBudget } from "./byte_budget.ts";

/**
 * Why a {@linkcode GuardedStream} gave up on its peer: a frame over the limit, too slow to
 * arrive, waiting too long for room in the budget, or finding the wait for room full.
 */
export type FrameViolation = "oversize" | "too-slow" | "no-room" | "busy";

/** What a {@linkcode GuardedStream} needs to know about its peer and the node. */
export interface FrameGuard {
  /** Whether the peer has proved membership now (its frames then skip the budget). */
  isMember: () => boolean;
  /** Resolves when the peer proves membership (a frame waiting for room then goes on). */
  proven: (signal: AbortSignal) => Promise<boolean>;
  /** The node-wide allowance for frames from peers that have not. */
  budget: ByteBudget;
  /** Largest frame accepted from anyone, in bytes. */
  maxFrameBytes: number;
  /** How long a frame of `bytes` from a non-member may take to arrive, in milliseconds. */
  deadlineMs: (bytes: number) => number;
  /** How long a frame may wait for room in the budget, in milliseconds. */
  waitMs: number;
  /** Told once when the stream is aborted, and why. */
  onViolation: (why: FrameViolation) => void;
}

type Phase = { kind: "header"; value: number; shift: number } | {
  kind: "body";
  remaining: number;
};

/**
 * A length-prefixed message stream (gossipsub's wire) seen through a guard: frames from a
 * peer that has not proved membership must each reserve their declared length from a
 * node-wide {@linkcode ByteBudget} before their bytes are passed on, and arrive within a
 * deadline. While no room is left the stream is paused (its muxer window closes: the remote
 * stops sending once the window it had is used), and the budget caps how many streams may
 * wait, so the memory strangers can make the node hold is the budget and those windows,
 * however many of them connect. Oversize frames, frames too slow to arrive, and frames that
 * find the wait full or wait too long for room end the stream.
 *
 * It behaves as the message stream it wraps for a reader (events `message`, `close`,
 * `remoteCloseWrite`; `send`, `close`, `abort`, `writeStatus`).
 */
export class GuardedStream extends EventTarget {
  #raw: Stream;
  #guard: FrameGuard;
  #queue: Uint8Array[] = [];
  #pumping = false;
  #phase: Phase = { kind: "header", value: 0, shift: 0 };
  #reserved = 0;
  #deadline: ReturnType<typeof setTimeout> | undefined;
  #done = false;
  #remoteClosed = false;
  /** Set while a frame waits for room: ends the wait. */
  #waiting: AbortController | undefined;

  /**
   * @param raw The stream to guard.
   * @param guard The peer's membership, the budget and the limits.
   */
  constructor(raw: Stream, guard: FrameGuard) {
    super();
    this.#raw = raw;
    this.#guard = guard;
    raw.addEventListener("message", (event) => {
      const data = event.data;
      if (data instanceof Uint8Array) this.#queue.push(data);
      else for (const part of data) this.#queue.push(part);
      void this.#pump();
    });
    raw.addEventListener("remoteCloseWrite", () => {
      this.#remoteClosed = true;
      void this.#pump();
    }, { once: true });
    raw.addEventListener("close", (event) => {
      this.#finish();
      this.dispatchEvent(Object.assign(new Event("close"), {
        error: event.error,
        local: event.local,
      }));
    }, { once: true });
  }

  /** The wrapped stream's write status. */
  get writeStatus(): Stream["writeStatus"] {
    return this.#raw.writeStatus;
  }

  /** Sends on the wrapped stream. */
  send(data: Uint8Array): boolean {
    return this.#raw.send(data);
  }

  /** Closes the wrapped stream. */
  close(): Promise<void> {
    return this.#raw.close();
  }

  /** Aborts the wrapped stream. */
  abort(err: Error): void {
    this.#raw.abort(err);
  }

  async #pump(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (this.#queue.length > 0 && !this.#done) {
        const chunk = this.#queue[0]!;
        const used = await this.#consume(chunk);
        if (used === chunk.byteLength) this.#queue.shift();
        else this.#queue[0] = chunk.subarray(used);
      }
      if (this.#remoteClosed && this.#queue.length === 0 && !this.#done) {
        this.dispatchEvent(new Event("remoteCloseWrite"));
      }
    } finally {
      this.#pumping = false;
    }
  }

  /** Passes on bytes of `chunk` up to and including the next frame boundary; returns how many. */
  async #consume(chunk: Uint8Array): Promise<number> {
    let pos = 0;
    while (pos < chunk.byteLength) {
      const phase = this.#phase;
      if (phase.kind === "header") {
        const byte = chunk[pos++]!;
        phase.value += (byte & 0x7f) * 2 ** phase.shift;
        phase.shift += 7;
        if (byte & 0x80) {
          if (phase.shift > 49) {
            this.#violate("oversize");
            return chunk.byteLength;
          }
          continue;
        }
        this.#forward(chunk.subarray(0, pos));
        if (!await this.#startFrame(phase.value)) return chunk.byteLength;
        return pos;
      }
      const take = Math.min(phase.remaining, chunk.byteLength - pos);
      pos += take;
      phase.remaining -= take;
      if (phase.remaining === 0) {
        this.#forward(chunk.subarray(0, pos));
        this.#endFrame();
        return pos;
      }
    }
    this.#forward(chunk);
    return chunk.byteLength;
  }

  async #startFrame(bytes: number): Promise<boolean> {
    if (bytes > this.#guard.maxFrameBytes) {
      this.#violate("oversize");
      return false;
    }
    this.#phase = { kind: "body", remaining: bytes };
    if (bytes === 0) {
      this.#endFrame();
      return true;
    }
    if (this.#guard.isMember()) return true;
    if (!this.#guard.budget.tryReserve(bytes)) {
      if (this.#guard.budget.waitFull) {
        this.#violate("busy");
        return false;
      }
      this.#raw.pause();
      const outcome = await this.#waitForRoom(bytes);
      if (this.#done) {
        if (outcome === "reserved") this.#guard.budget.release(bytes);
        return false;
      }
      if (outcome === "timeout") {
        this.#violate("no-room");
        return false;
      }
      this.#raw.resume();
      if (outcome === "member") return true;
    }
    this.#reserved = bytes;
    this.#deadline = setTimeout(() => this.#violate("too-slow"), this.#guard.deadlineMs(bytes));
    return true;
  }

  /** Waits for room in the budget, or for the peer to prove membership (then none is needed). */
  async #waitForRoom(bytes: number): Promise<"reserved" | "member" | "timeout"> {
    const wait = new AbortController();
    this.#waiting = wait;
    const timeout = AbortSignal.any([wait.signal, AbortSignal.timeout(this.#guard.waitMs)]);
    const reserved = this.#guard.budget.reserve(bytes, timeout);
    const outcome = await Promise.race([
      reserved.then((ok) => ok ? "reserved" as const : "timeout" as const),
      this.#guard.proven(timeout).then((ok) => ok ? "member" as const : "timeout" as const),
    ]);
    wait.abort(); // ends the loser
    this.#waiting = undefined;
    // A member needs no reservation: give back one granted in the same moment.
    if (outcome === "member" && await reserved) this.#guard.budget.release(bytes);
    return outcome;
  }

  #endFrame(): void {
    this.#phase = { kind: "header", value: 0, shift: 0 };
    this.#releaseFrame();
  }

  #releaseFrame(): void {
    clearTimeout(this.#deadline);
    this.#deadline = undefined;
    if (this.#reserved > 0) this.#guard.budget.release(this.#reserved);
    this.#reserved = 0;
  }

  #forward(data: Uint8Array): void {
    if (data.byteLength === 0 || this.#done) return;
    // A reserved frame is held until it ends: a copy, so that what the budget counts is what
    // stays in memory. A view would pin the whole read buffer it points into (up to three
    // times the frame's bytes were measured held that way).
    if (this.#reserved > 0) data = data.slice();
    this.dispatchEvent(Object.assign(new Event("message"), { data }));
  }

  #violate(why: FrameViolation): void {
    if (this.#done) return;
    this.#finish();
    this.#guard.onViolation(why);
    this.#raw.abort(new Error(`gossip frame refused: ${why}`));
  }

  #finish(): void {
    this.#done = true;
    this.#queue = [];
    this.#releaseFrame();
    // A closed stream gives its place in the wait back at once, not when the wait times out.
    this.#waiting?.abort();
  }
}
