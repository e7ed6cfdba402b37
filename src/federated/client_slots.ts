import { IDLE_SWEEP_MAX_MS, IDLE_SWEEPS_PER_TIMEOUT } from "./constants.ts";

/** Options of {@linkcode ClientSlots}. */
export interface ClientSlotsInit {
  /** Connections with a tunnel (or opening one) at once: `--max-connections`. */
  maxTunnelled: number;
  /** Connections that have sent nothing yet; past this, the longest-waiting one is closed. */
  maxWaiting: number;
  /** A connection with no byte either way for this long is closed, in ms. */
  idleTimeoutMs: number;
  /** Closes a connection: idle too long, or the longest-waiting one when too many wait. */
  close: (conn: Deno.Conn, why: "idle" | "evicted") => void;
  /** The clock. @default {Date.now} */
  now?: () => number;
}

/**
 * The client connections of the balancer and what each may hold. A connection that has sent
 * nothing holds no worker resource (no tunnel, no backend connection): it only waits, and
 * when too many wait, the one that waited longest is closed. A tunnel is taken when the
 * client speaks (or at accept for server-first protocols), within `--max-connections`. Every
 * connection is closed after the idle timeout without a byte either way.
 */
export class ClientSlots {
  #init: Required<ClientSlotsInit>;
  #waiting = new Set<Deno.Conn>(); // insertion order: longest-waiting first
  #tunnelled = new Set<Deno.Conn>();
  #lastActivity = new Map<Deno.Conn, number>();
  // One sweep for every connection instead of a timer each: a timer per client cost the
  // balancer 1.7 % of its CPU per connection, and a waiting client held one.
  #sweeper: ReturnType<typeof setInterval> | undefined;

  /** @param init The caps, the idle timeout and how to close a connection. */
  constructor(init: ClientSlotsInit) {
    this.#init = { now: Date.now, ...init };
  }

  /** Connections that have sent nothing yet. */
  get waiting(): number {
    return this.#waiting.size;
  }

  /** Connections with a tunnel (or opening one). */
  get tunnelled(): number {
    return this.#tunnelled.size;
  }

  /** Every connection held. */
  all(): Deno.Conn[] {
    return [...this.#waiting, ...this.#tunnelled];
  }

  /** Connections that have sent nothing yet. */
  waitingConns(): Deno.Conn[] {
    return [...this.#waiting];
  }

  /** A new connection that has sent nothing; the longest-waiting one goes if too many wait. */
  wait(conn: Deno.Conn): void {
    if (this.#waiting.size >= this.#init.maxWaiting) {
      const longest = this.#waiting.values().next().value;
      if (longest !== undefined) {
        this.release(longest);
        this.#init.close(longest, "evicted");
      }
    }
    this.#waiting.add(conn);
    this.#track(conn);
  }

  /** Takes a tunnel slot for `conn`; `false` when all are taken. */
  tunnel(conn: Deno.Conn): boolean {
    if (this.#tunnelled.size >= this.#init.maxTunnelled) return false;
    this.#waiting.delete(conn);
    this.#tunnelled.add(conn);
    if (!this.#lastActivity.has(conn)) this.#track(conn);
    return true;
  }

  /** Bytes moved on `conn`: its idle timeout starts again. */
  touch(conn: Deno.Conn): void {
    if (this.#lastActivity.has(conn)) this.#lastActivity.set(conn, this.#init.now());
  }

  /** Forgets `conn` (closed, or done). */
  release(conn: Deno.Conn): void {
    this.#waiting.delete(conn);
    this.#tunnelled.delete(conn);
    this.#lastActivity.delete(conn);
    // A drained balancer leaves no timer behind (it would hold a library user's process).
    if (this.#lastActivity.size === 0 && this.#sweeper !== undefined) {
      clearInterval(this.#sweeper);
      this.#sweeper = undefined;
    }
  }

  #track(conn: Deno.Conn): void {
    this.#lastActivity.set(conn, this.#init.now());
    this.#sweeper ??= setInterval(
      () => this.#sweep(),
      Math.min(IDLE_SWEEP_MAX_MS, this.#init.idleTimeoutMs / IDLE_SWEEPS_PER_TIMEOUT),
    );
  }

  /** Closes every connection idle for the timeout (at most a sweep's period late). */
  #sweep(): void {
    const now = this.#init.now();
    for (const [conn, last] of this.#lastActivity) {
      if (now - last < this.#init.idleTimeoutMs) continue;
      this.release(conn);
      this.#init.close(conn, "idle");
    }
  }
}
