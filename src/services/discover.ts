import { getLogger } from "@logtape/logtape";
import type { Network } from "../network/network.ts";
import type { PoolView, WorkerView } from "./pool.ts";
import { POOL_VIEWS } from "./pool_views.ts";
import { TunnelListener } from "./tunnel_listener.ts";
import { announceUser } from "./users.ts";

const log = getLogger(["p2p", "discover"]);

/** Options of {@linkcode PoolTunnels}. */
export interface PoolTunnelsInit {
  /** The pool bucket (`[networkId_]pool`). */
  bucket: string;
  /** Host the local tunnel listeners bind. @default {"127.0.0.1"} */
  hostname?: string;
}

/** One local tunnel of {@linkcode PoolTunnels}. */
export interface WorkerTunnel {
  /** The online worker the tunnel leads to. */
  worker: WorkerView;
  /** Local `host:port` that tunnels to the worker. */
  address: string;
}

/**
 * One local tunnel listener per online worker of a pool (LocalAI's allocate mode, behind
 * `LLAMACPP_GRPC_SERVERS`). Tunnels of workers that go offline are closed; new workers get
 * one at once. Emits `change` whenever the list of addresses changes.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { PoolTunnels, startNetwork, startWorker, WORKER_POOL } from "@p2p/p2p";
 * import { generateTokenConfig } from "../token/token.ts";
 *
 * const network = await startNetwork({
 *   token: generateTokenConfig(),
 *   listen: ["/ip4/127.0.0.1/tcp/0"],
 *   bootstrapPeers: [],
 *   mdns: false,
 * });
 * const worker = await startWorker(network, { target: "127.0.0.1:50052", pool: WORKER_POOL });
 * const tunnels = new PoolTunnels(network, { bucket: worker.bucket });
 * const changed = new Promise((resolve) => tunnels.addEventListener("change", resolve));
 * try {
 *   await tunnels.start();
 *   await changed;
 *   assert.equal(tunnels.tunnels()[0]?.worker.id, worker.id);
 *   assert.match(tunnels.addressList(), /^127\.0\.0\.1:\d+$/);
 * } finally {
 *   await tunnels.stop();
 *   await worker.stop();
 *   await network.stop();
 * }
 * ```
 */
export class PoolTunnels extends EventTarget {
  /** The pool view whose online workers get a tunnel. */
  readonly view: PoolView;
  #stopping: Promise<void> | undefined;
  #network: Network;
  #hostname: string;
  #tunnels = new Map<string, { listener: TunnelListener; worker: WorkerView }>();
  #syncing: Promise<void> = Promise.resolve();

  /**
   * Creates the tunnels of a pool; nothing runs until {@linkcode PoolTunnels.start}.
   *
   * @param network The running network.
   * @param init The pool.
   */
  constructor(network: Network, init: PoolTunnelsInit) {
    super();
    this.#network = network;
    this.#hostname = init.hostname ?? "127.0.0.1";
    this.view = network.shared(POOL_VIEWS).get(init.bucket);
  }

  /** Announces this node in `users` and follows the pool. */
  async start(): Promise<void> {
    await announceUser(this.#network);
    this.view.addEventListener("change", this.#onChange);
    this.#onChange();
  }

  /** Closes every tunnel (once: a second call waits for the first). */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    this.view.removeEventListener("change", this.#onChange);
    await this.#syncing;
    await Promise.all([...this.#tunnels.values()].map((t) => t.listener.stop()));
    this.#tunnels.clear();
  }

  /** The tunnels, sorted by worker ID. */
  tunnels(): WorkerTunnel[] {
    return [...this.#tunnels.values()]
      .map(({ listener, worker }) => ({ worker, address: listener.address }))
      .sort((a, b) => a.worker.id.localeCompare(b.worker.id));
  }

  /** The local addresses, comma-joined in worker-ID order (`LLAMACPP_GRPC_SERVERS`). */
  addressList(): string {
    return this.tunnels().map((t) => t.address).join(",");
  }

  #onChange = (): void => {
    this.#syncing = this.#syncing.then(() => this.#sync());
  };

  async #sync(): Promise<void> {
    const online = new Map(this.view.online().map((w) => [`${w.name}@${w.peerId}`, w]));
    let changed = false;
    for (const [key, tunnel] of this.#tunnels) {
      if (online.has(key)) continue;
      this.#tunnels.delete(key);
      await tunnel.listener.stop();
      log.info("Closed the tunnel to worker {id}", { id: tunnel.worker.id });
      changed = true;
    }
    for (const [key, worker] of online) {
      if (this.#tunnels.has(key) || worker.peerId === undefined) continue;
      const peerId = worker.peerId;
      const addresses = worker.addresses;
      const listener = new TunnelListener(this.#network, {
        listen: `${this.#hostname.includes(":") ? `[${this.#hostname}]` : this.#hostname}:0`,
        flag: "--host",
        label: `worker ${worker.id}`,
        resolve: () => Promise.resolve({ peerId, multiaddrs: addresses }),
      });
      listener.start();
      this.#tunnels.set(key, { listener, worker });
      log.info("Worker {id} is reachable on {address}", {
        id: worker.id,
        address: listener.address,
      });
      changed = true;
    }
    if (changed) this.dispatchEvent(new Event("change"));
  }
}
