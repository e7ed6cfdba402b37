import type {
  ComponentLogger,
  Connection,
  Libp2pEvents,
  Logger,
  Startable,
  TypedEventTarget,
} from "@libp2p/interface";
import type { ConnectionManager } from "@libp2p/interface-internal";
import { CONNECTION_SILENCE_CHECK_MS, CONNECTION_SILENCE_LIMIT_MS } from "./constants.ts";

/** What the node gives the {@linkcode silentConnectionCloser} component. */
export interface SilentConnectionComponents {
  /** The node's events, where `connection:open` arrives. */
  events: TypedEventTarget<Libp2pEvents>;
  /** The connections to watch. */
  connectionManager: ConnectionManager;
  /** Where the component logs (`p2p:silent-connections`). */
  logger: ComponentLogger;
}

/** Options of {@linkcode silentConnectionCloser}. */
export interface SilentConnectionInit {
  /** Silence after which a connection is closed, in ms. @default {30000} */
  silenceLimitMs?: number;
  /** How often connections are checked, in ms. @default {5000} */
  checkIntervalMs?: number;
}

/**
 * Whether a connection last heard from at `lastHeardAt` is dead at `now`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { isSilent } from "./silent_connections.ts";
 * assert.equal(isSilent(0, 29_999, 30_000), false);
 * assert.equal(isSilent(0, 30_000, 30_000), true);
 * ```
 */
export function isSilent(lastHeardAt: number, now: number, limitMs: number): boolean {
  return now - lastHeardAt >= limitMs;
}

/** The raw connection under a libp2p `Connection`: it emits a `message` per chunk read. */
function rawConnectionOf(connection: Connection): EventTarget | undefined {
  const raw = (connection as unknown as { maConn?: unknown }).maConn;
  return raw instanceof EventTarget ? raw : undefined;
}

class SilentConnectionCloser implements Startable {
  readonly [Symbol.toStringTag] = "@p2p/silent-connections";
  #components: SilentConnectionComponents;
  #log: Logger;
  #limitMs: number;
  #intervalMs: number;
  #lastHeard = new WeakMap<Connection, number>();
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(components: SilentConnectionComponents, init: SilentConnectionInit) {
    this.#components = components;
    this.#log = components.logger.forComponent("p2p:silent-connections");
    this.#limitMs = init.silenceLimitMs ?? CONNECTION_SILENCE_LIMIT_MS;
    this.#intervalMs = init.checkIntervalMs ?? CONNECTION_SILENCE_CHECK_MS;
  }

  start(): void {
    this.#components.events.addEventListener("connection:open", this.#onOpen);
    for (const connection of this.#components.connectionManager.getConnections()) {
      this.#watch(connection);
    }
    this.#timer = setInterval(this.#check, this.#intervalMs);
  }

  stop(): void {
    this.#components.events.removeEventListener("connection:open", this.#onOpen);
    clearInterval(this.#timer);
  }

  #onOpen = (event: CustomEvent<Connection>): void => this.#watch(event.detail);

  #watch(connection: Connection): void {
    const raw = rawConnectionOf(connection);
    // Without a way to hear it, a connection is never judged silent (never closed by us).
    if (raw === undefined) return;
    this.#lastHeard.set(connection, Date.now());
    raw.addEventListener("message", () => this.#lastHeard.set(connection, Date.now()));
  }

  #check = (): void => {
    const now = Date.now();
    for (const connection of this.#components.connectionManager.getConnections()) {
      const lastHeard = this.#lastHeard.get(connection);
      if (lastHeard === undefined || !isSilent(lastHeard, now, this.#limitMs)) continue;
      this.#log(
        "closing connection to %p: nothing received for %d ms",
        connection.remotePeer,
        now - lastHeard,
      );
      connection.abort(new Error(`nothing received for ${now - lastHeard} ms`));
    }
  };
}

/**
 * Closes connections that received nothing for a while (dead peers), in place of libp2p's
 * connection monitor, which closes a connection as soon as one ping fails — also a busy one
 * whose muxer is full or whose peer is loaded. The monitor still pings every connection (a
 * live peer's answers are bytes received); it just no longer decides. A connection that
 * receives bytes is never closed.
 *
 * @param init The silence limit and the check period.
 * @returns A libp2p service factory.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { silentConnectionCloser } from "./silent_connections.ts";
 *
 * assert.equal(typeof silentConnectionCloser(), "function");
 * ```
 */
export function silentConnectionCloser(
  init: SilentConnectionInit = {},
): (components: SilentConnectionComponents) => Startable {
  return (components) => new SilentConnectionCloser(components, init);
}
