import { createHash } from "node:crypto";
import { getLogger } from "@logtape/logtape";
import type { Network } from "../network/network.ts";
import { addressSetKey } from "../node/address_set.ts";
import { FEDERATED_POOL, WORKER_ANNOUNCE_INTERVAL_MS } from "./constants.ts";
import { type ExposedService, exposeService } from "./expose.ts";
import { goRfc3339Nano, lettersFrom, type NodeData, poolBucket } from "./records.ts";

const log = getLogger(["p2p", "worker"]);

/** Options of {@linkcode startWorker}. */
export interface WorkerInit {
  /** `HOST:PORT` of the backend this worker serves. */
  target: string;
  /** The pool: `federated`, `worker` (llama.cpp RPC), `mlx_worker`, or any name. @default {"federated"} */
  pool?: string;
  /** Bucket prefix (LocalAI network ID). */
  networkId?: string | undefined;
  /** The worker's name; default derived from the host name and target, stable across restarts. */
  name?: string | undefined;
  /** The host name used in the worker ID and default name. @default {Deno.hostname()} */
  hostname?: string;
  /** How often the NodeData entry is refreshed, in ms. @default {10000} */
  announceIntervalMs?: number;
}

/** A registered worker: see {@linkcode startWorker}. */
export interface Worker {
  /** The worker's name: its service name and the key of its pool entry. */
  readonly name: string;
  /** LocalAI's worker ID, `<hostname>-<name>`. */
  readonly id: string;
  /** The pool bucket it is registered in (`[networkId_]pool`). */
  readonly bucket: string;
  /** The exposed backend that tunnel streams reach. */
  readonly service: ExposedService;
  /** Stops refreshing the entry and serving streams (the entry ages out). */
  stop(): Promise<void>;
}

/**
 * The default worker name: 10 letters derived from the host name and the target, so that a
 * restarted worker replaces its own ledger entry instead of adding one (LocalAI draws a
 * random name at every start).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { defaultWorkerName } from "./worker.ts";
 *
 * const name = defaultWorkerName("gpu-box", "127.0.0.1:50052");
 * assert.match(name, /^[a-zA-Z]{10}$/);
 * assert.equal(name, defaultWorkerName("gpu-box", "127.0.0.1:50052"));
 * assert.notEqual(name, defaultWorkerName("gpu-box", "127.0.0.1:50053"));
 * ```
 */
export function defaultWorkerName(hostname: string, target: string): string {
  const seed = createHash("sha256").update(`p2p-worker\n${hostname}\n${target}`).digest();
  return lettersFrom(new Uint8Array(seed));
}

/**
 * Registers a backend as a worker of a pool, as a LocalAI worker does: a `services` entry
 * plus NodeData `{Name, ID, TunnelAddress, ServiceID, LastSeen}` in bucket
 * `[networkId_]pool`, refreshed every `announceIntervalMs`; tunnel streams are served like
 * {@linkcode exposeService}.
 *
 * @param network The running network.
 * @param init The backend, the pool and the worker's name.
 * @returns The registered worker; call `stop()` when done.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { startNetwork, startWorker, type Worker, WORKER_POOL } from "@p2p/p2p";
 * import { generateTokenConfig } from "../token/token.ts";
 *
 * const network = await startNetwork({
 *   token: generateTokenConfig(),
 *   listen: ["/ip4/127.0.0.1/tcp/0"],
 *   bootstrapPeers: [],
 *   mdns: false,
 * });
 * let worker: Worker | undefined;
 * try {
 *   worker = await startWorker(network, {
 *     target: "127.0.0.1:50052",
 *     pool: WORKER_POOL,
 *     networkId: "team",
 *     hostname: "gpu-box",
 *   });
 *   assert.equal(worker.bucket, "team_worker");
 *   assert.equal(worker.id, `gpu-box-${worker.name}`);
 *   assert.ok(network.ledger.has(worker.bucket, worker.name));
 * } finally {
 *   await worker?.stop();
 *   await network.stop();
 * }
 * ```
 */
export async function startWorker(network: Network, init: WorkerInit): Promise<Worker> {
  const hostname = init.hostname ?? Deno.hostname();
  const name = init.name ?? defaultWorkerName(hostname, init.target);
  const id = `${hostname}-${name}`;
  const bucket = poolBucket(init.pool ?? FEDERATED_POOL, init.networkId ?? network.networkId);
  const service = await exposeService(network, { target: init.target, service: name });
  const announce = async (): Promise<void> => {
    const data: NodeData = await network.sign(bucket, name, {
      Name: name,
      ID: id,
      TunnelAddress: "",
      ServiceID: "",
      LastSeen: goRfc3339Nano(new Date(network.now())),
      Multiaddrs: network.node.getMultiaddrs().map(String),
    });
    await network.ledger.put(bucket, name, data).catch((err) => {
      log.warning("Cannot announce worker {name}: {error}", { name, error: String(err) });
    });
  };
  await announce();
  const timer = setInterval(announce, init.announceIntervalMs ?? WORKER_ANNOUNCE_INTERVAL_MS);
  // New addresses (a relay reservation, a UPnP mapping) reach consumers at once.
  let advertised = addressSetKey(network.node.getMultiaddrs());
  const onAddresses = (): void => {
    const now = addressSetKey(network.node.getMultiaddrs());
    if (now === advertised) return;
    advertised = now;
    void announce();
  };
  network.node.addEventListener("self:peer:update", onAddresses);
  log.info("Worker {id} serves {target} in pool {bucket}", { id, target: init.target, bucket });
  return await network.adopt({
    name,
    id,
    bucket,
    service,
    async stop() {
      clearInterval(timer);
      network.node.removeEventListener("self:peer:update", onAddresses);
      network.ledger.forget(bucket, name);
      await service.stop();
    },
  });
}
