import type { StreamHandler, StreamHandlerOptions } from "@libp2p/interface";
import type { Registrar } from "@libp2p/interface-internal";
import { autoNAT, type AutoNATComponents, type AutoNATServiceInit } from "@libp2p/autonat";
import {
  AUTONAT_GLOBAL_LIMIT,
  AUTONAT_LIMIT_INTERVAL_MS,
  AUTONAT_PEER_LIMIT,
} from "./constants.ts";

/** edgevpn's `--nat-ratelimit*`: dial-back requests served per interval. */
export interface AutoNATRateLimit {
  /** Requests from all peers together per interval. @default {10} */
  global?: number;
  /** Requests from one peer per interval. @default {10} */
  peer?: number;
  /** The interval, in ms. @default {60000} */
  intervalMs?: number;
}

/**
 * Counts requests in fixed windows: go-libp2p's AutoNAT service limits the same way (its
 * counters reset every interval).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { WindowLimiter } from "./autonat_limits.ts";
 *
 * const limiter = new WindowLimiter({ global: 2, peer: 1, intervalMs: 1000 });
 * assert.equal(limiter.take("a", 0), true);
 * assert.equal(limiter.take("a", 1), false); // a's one request per window is spent
 * assert.equal(limiter.take("b", 2), true);
 * assert.equal(limiter.take("c", 3), false); // two per window in all
 * assert.equal(limiter.take("c", 1000), true); // a new window
 * ```
 */
export class WindowLimiter {
  #limits: Required<AutoNATRateLimit>;
  #windowStart = -Infinity;
  #total = 0;
  #perPeer = new Map<string, number>();

  /** @param limits The limits per window. */
  constructor(limits: AutoNATRateLimit = {}) {
    this.#limits = {
      global: limits.global ?? AUTONAT_GLOBAL_LIMIT,
      peer: limits.peer ?? AUTONAT_PEER_LIMIT,
      intervalMs: limits.intervalMs ?? AUTONAT_LIMIT_INTERVAL_MS,
    };
  }

  /** Takes one request of `peer` at `now`; `false` when a limit is reached. */
  take(peer: string, now: number): boolean {
    if (now - this.#windowStart >= this.#limits.intervalMs) {
      this.#windowStart = now;
      this.#total = 0;
      this.#perPeer.clear();
    }
    const used = this.#perPeer.get(peer) ?? 0;
    if (this.#total >= this.#limits.global || used >= this.#limits.peer) return false;
    this.#total++;
    this.#perPeer.set(peer, used + 1);
    return true;
  }
}

/**
 * `@libp2p/autonat` (v1, what go-libp2p and LocalAI speak) with edgevpn's service rate
 * limits: requests past a limit are reset unanswered (the asker counts no result, as with
 * go-libp2p's refusal). The client side is unchanged; the server's dial-back always opens a
 * new connection (see the code).
 *
 * @param init AutoNAT's own options.
 * @param limits The rate limits; `false` serves every request (edgevpn `--nat-ratelimit=false`).
 * @returns A libp2p service factory (register it as `autoNAT`).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { rateLimitedAutoNAT } from "./autonat_limits.ts";
 *
 * assert.equal(typeof rateLimitedAutoNAT({}, { global: 100, peer: 100, intervalMs: 10_000 }), "function");
 * ```
 */
export function rateLimitedAutoNAT(
  init: AutoNATServiceInit = {},
  limits: AutoNATRateLimit | false = {},
): (components: AutoNATComponents) => unknown {
  const factory = autoNAT(init);
  return (components) => {
    // The server's dial-back must be a new connection (go-libp2p dials from a separate host):
    // @libp2p/autonat 3.0.28 reuses an open connection to the asker and closes it afterwards,
    // cutting the asker off every time it asks about the address it is connected on.
    const manager = components.connectionManager;
    const dialBack = Object.create(manager, {
      openConnection: {
        value: (target: never, options: Record<string, unknown> = {}) =>
          manager.openConnection(target, { ...options, force: true }),
      },
    });
    if (limits === false) {
      return factory(Object.create(components, { connectionManager: { value: dialBack } }));
    }
    const limiter = new WindowLimiter(limits);
    const inner = components.registrar;
    const registrar = Object.create(inner, {
      handle: {
        value: (protocol: string, handler: StreamHandler, options?: StreamHandlerOptions) =>
          inner.handle(protocol, (stream, connection) => {
            if (limiter.take(connection.remotePeer.toString(), Date.now())) {
              return handler(stream, connection);
            }
            stream.abort(new Error("AutoNAT rate limit"));
          }, options),
      },
    }) as Registrar;
    return factory(
      Object.create(components, {
        registrar: { value: registrar },
        connectionManager: { value: dialBack },
      }),
    );
  };
}
