import type { Network } from "../ledger/network.ts";
import { PoolView } from "./pool.ts";

/**
 * One started {@linkcode PoolView} per pool bucket, shared by everything on a node (the
 * balancer, `discover`, the API), so each worker is pinged once, not once per reader.
 */
export class PoolViews {
  #network: Network;
  #views = new Map<string, PoolView>();
  #pingIntervalMs: number | undefined;

  /** @param network The running network. @param pingIntervalMs Liveness ping period. */
  constructor(network: Network, pingIntervalMs?: number) {
    this.#network = network;
    this.#pingIntervalMs = pingIntervalMs;
  }

  /** The view of `bucket`, started on first use. */
  get(bucket: string): PoolView {
    let view = this.#views.get(bucket);
    if (view === undefined) {
      view = new PoolView(this.#network, {
        bucket,
        ...(this.#pingIntervalMs === undefined ? {} : { pingIntervalMs: this.#pingIntervalMs }),
      });
      view.start();
      this.#views.set(bucket, view);
    }
    return view;
  }

  /** The buckets with a view. */
  buckets(): string[] {
    return [...this.#views.keys()].sort();
  }

  /** Stops every view. */
  stop(): void {
    for (const view of this.#views.values()) view.stop();
    this.#views.clear();
  }
}
