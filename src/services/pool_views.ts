import type { Network } from "../network/network.ts";
import { PoolView } from "./pool.ts";
import { type SharedKey, sharedKey } from "../network/components.ts";

/**
 * One started {@linkcode PoolView} per pool bucket, shared by everything on a node (the
 * balancer, `discover`, the API), so each worker is pinged once, not once per reader.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { startNetwork } from "@p2p/p2p";
 * import { PoolViews } from "./pool_views.ts";
 * import { WORKER_POOL } from "@p2p/p2p";
 * import { generateTokenConfig } from "../token/token.ts";
 *
 * const network = await startNetwork({
 *   token: generateTokenConfig(),
 *   listen: ["/ip4/127.0.0.1/tcp/0"],
 *   bootstrapPeers: [],
 *   mdns: false,
 * });
 * const views = new PoolViews(network);
 * try {
 *   const view = views.get(WORKER_POOL);
 *   assert.equal(views.get(WORKER_POOL), view);
 *   assert.deepEqual(views.buckets(), [WORKER_POOL]);
 *   assert.deepEqual(view.workers(), []);
 * } finally {
 *   views.stop();
 *   await network.stop();
 * }
 * ```
 */
export class PoolViews {
  #network: Network;
  #views = new Map<string, PoolView>();

  /**
   * Creates an empty set of views.
   *
   * @param network The running network.
   */
  constructor(network: Network) {
    this.#network = network;
  }

  /** The view of `bucket`, started on first use. */
  get(bucket: string): PoolView {
    let view = this.#views.get(bucket);
    if (view === undefined) {
      view = new PoolView(this.#network, { bucket });
      view.start();
      this.#views.set(bucket, view);
    }
    return view;
  }

  /** The buckets with a view. */
  buckets(): string[] {
    return [...this.#views.keys()].sort();
  }

  /** Stops every view (with the network). */
  stop(): void {
    for (const view of this.#views.values()) view.stop();
    this.#views.clear();
  }
}

/**
 * The pool views of a network, shared by everything that follows a pool on it (balancers,
 * discovery, the API): `network.shared(POOL_VIEWS).get(bucket)`.
 */
export const POOL_VIEWS: SharedKey<PoolViews> = sharedKey("pool views", (n) => new PoolViews(n));
