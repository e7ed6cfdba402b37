/**
 * What runs inside a {@linkcode Network} besides the node and the ledger: tunnels, workers,
 * the federated balancer, the API, messaging. A component is started when it is added to a
 * running network and stopped, in reverse order, when the network stops.
 */
export interface NetworkComponent {
  /** Starts the component (the network is running). */
  start(): void | Promise<void>;
  /** Stops it and releases what it holds. */
  stop(): void | Promise<void>;
}

/**
 * A per-network singleton, made on first use by {@linkcode Network.shared}: state that
 * belongs to one network (tunnel counters, the pool views) rather than to the process.
 */
export interface SharedKey<T> {
  /** For messages. */
  readonly name: string;
  /** Makes the value for a network; a value with `stop()` is stopped with the network. */
  create(network: import("./network.ts").Network): T;
}

/**
 * Declares a per-network singleton.
 *
 * @param name What it is, for messages.
 * @param create Makes it for one network.
 * @returns The key to pass to `network.shared()`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { sharedKey } from "@p2p/p2p";
 *
 * const COUNTER = sharedKey("counter", () => ({ hits: 0 }));
 * assert.equal(COUNTER.name, "counter");
 * ```
 */
export function sharedKey<T>(
  name: string,
  create: (network: import("./network.ts").Network) => T,
): SharedKey<T> {
  return { name, create };
}
