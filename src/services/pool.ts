import { getLogger } from "@logtape/logtape";
import type { PeerId } from "@libp2p/interface";
import { peerIdFromString } from "@libp2p/peer-id";
import type { Network } from "../ledger/network.ts";
import {
  LIVENESS_MAX_FAILED_PINGS,
  LIVENESS_PING_INTERVAL_MS,
  LIVENESS_PING_TIMEOUT_MS,
  ONLINE_WINDOW_MS,
  SERVICES_BUCKET,
} from "./constants.ts";
import { asNodeData, asServiceRecord, type NodeData, parseGoTime } from "./records.ts";
import { dialTarget } from "./tunnel.ts";

const log = getLogger(["p2p", "pool"]);

/** One worker of a pool as this node sees it. */
export interface WorkerView {
  /** The key of its entry (its service name). */
  name: string;
  /** LocalAI's worker ID (`<hostname>-<name>`). */
  id: string;
  /** The peer serving it, from the `services` bucket. */
  peerId: string | undefined;
  /** Its addresses, as it announced them. */
  addresses: string[];
  /** `LastSeen` as the worker wrote it (its clock). */
  lastSeen: string;
  /** When this node last received a refresh of the entry (this node's clock, ms). */
  receivedAt: number;
  /** Whether it is routable now: fresh, connected, answering pings. */
  online: boolean;
  /** Why it is offline, when it is. */
  offlineReason?: "stale" | "disconnected" | "unreachable" | "no-service";
  /** The raw entry. */
  data: NodeData;
}

/** Options of a {@linkcode PoolView}. */
export interface PoolViewInit {
  /** The pool bucket (`[networkId_]pool`). */
  bucket: string;
  /** Entries not refreshed for this long (this node's clock) are offline. @default {40000} */
  onlineWindowMs?: number;
  /** Liveness ping period. @default {1000} */
  pingIntervalMs?: number;
}

interface Tracked {
  json: string;
  receivedAt: number;
  /** Liveness from connection events and pings. */
  reachable: boolean;
  failedPings: number;
  dialing: boolean;
}

/**
 * The online workers of a pool. Freshness is judged on this node's clock (when an update
 * was received), not on the worker's `LastSeen`, so clock skew does not matter; and a worker
 * whose connection closes or whose pings fail leaves the view at once and returns when it is
 * reachable again, instead of 40 s later.
 *
 * Emits `change` whenever the online set changes.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { startNetwork } from "@p2p/p2p/ledger";
 * import { PoolView, startWorker, WORKER_POOL } from "@p2p/p2p/services";
 * import { generateTokenConfig } from "@p2p/p2p/token";
 *
 * const network = await startNetwork({
 *   token: generateTokenConfig(),
 *   listen: ["/ip4/127.0.0.1/tcp/0"],
 *   bootstrapPeers: [],
 *   mdns: false,
 * });
 * const worker = await startWorker(network, { target: "127.0.0.1:50052", pool: WORKER_POOL });
 * const view = new PoolView(network, { bucket: worker.bucket });
 * view.start();
 * try {
 *   assert.deepEqual(view.online().map((w) => w.id), [worker.id]);
 * } finally {
 *   view.stop();
 *   await worker.stop();
 *   await network.stop();
 * }
 * ```
 */
export class PoolView extends EventTarget {
  /** The pool bucket this view follows. */
  readonly bucket: string;
  #network: Network;
  #window: number;
  #pingInterval: number;
  #tracked = new Map<string, Tracked>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #lastOnline = "";

  /**
   * Creates a view of a pool; it follows nothing until {@linkcode PoolView.start}.
   *
   * @param network The running network.
   * @param init The pool and timings.
   */
  constructor(network: Network, init: PoolViewInit) {
    super();
    this.#network = network;
    this.bucket = init.bucket;
    this.#window = init.onlineWindowMs ?? ONLINE_WINDOW_MS;
    this.#pingInterval = init.pingIntervalMs ?? LIVENESS_PING_INTERVAL_MS;
  }

  /** Starts following the ledger, connections and pings. */
  start(): void {
    if (this.#timer !== undefined) return;
    this.#network.ledger.addEventListener("change", this.#onLedger);
    this.#network.node.addEventListener("peer:disconnect", this.#onDisconnect);
    this.#network.node.addEventListener("peer:connect", this.#onConnect);
    this.#onLedger();
    this.#timer = setInterval(() => this.#tick(), this.#pingInterval);
  }

  /** Stops following. */
  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#network.ledger.removeEventListener("change", this.#onLedger);
    this.#network.node.removeEventListener("peer:disconnect", this.#onDisconnect);
    this.#network.node.removeEventListener("peer:connect", this.#onConnect);
  }

  /** Every worker of the pool, online or not, sorted by ID. */
  workers(): WorkerView[] {
    const entries = this.#network.ledger.bucket(this.bucket);
    const now = this.#network.now();
    const views: WorkerView[] = [];
    for (const [name, value] of Object.entries(entries)) {
      const data = asNodeData(value);
      const tracked = this.#tracked.get(name);
      if (data === undefined || tracked === undefined) continue;
      const peerId = this.#peerOf(name, data);
      const reason = peerId === undefined
        ? "no-service"
        : now - tracked.receivedAt > this.#window
        ? "stale"
        : !tracked.reachable
        ? (this.#connected(peerId) ? "unreachable" : "disconnected")
        : undefined;
      views.push({
        name,
        id: data.ID || name,
        peerId,
        addresses: data.Multiaddrs ?? [],
        lastSeen: data.LastSeen,
        receivedAt: tracked.receivedAt,
        online: reason === undefined,
        ...(reason === undefined ? {} : { offlineReason: reason }),
        data,
      });
    }
    return views.sort((a, b) => a.id.localeCompare(b.id));
  }

  /** The online workers, sorted by ID. */
  online(): WorkerView[] {
    return this.workers().filter((w) => w.online);
  }

  #peerOf(name: string, data: NodeData): string | undefined {
    const record = asServiceRecord(
      this.#network.ledger.get(SERVICES_BUCKET, data.ServiceID || name),
    );
    return record?.PeerID;
  }

  #connected(peerId: string): boolean {
    try {
      return this.#network.node.getConnections(peerIdFromString(peerId)).length > 0;
    } catch {
      return false;
    }
  }

  #onLedger = (): void => {
    const entries = this.#network.ledger.storage[this.bucket] ?? {};
    const now = this.#network.now();
    for (const [name, json] of Object.entries(entries)) {
      const tracked = this.#tracked.get(name);
      if (tracked === undefined) {
        // First sight: its LastSeen (on the writer's clock) must look recent to count as fresh.
        const lastSeen = parseGoTime(asNodeData(safeParse(json))?.LastSeen ?? "") ?? 0;
        const receivedAt = Math.abs(now - lastSeen) <= this.#window ? now : lastSeen;
        this.#tracked.set(name, {
          json,
          receivedAt,
          reachable: false,
          failedPings: 0,
          dialing: false,
        });
        this.#probe(name);
      } else if (tracked.json !== json) {
        tracked.json = json;
        tracked.receivedAt = now;
      }
    }
    for (const name of this.#tracked.keys()) if (!(name in entries)) this.#tracked.delete(name);
    this.#emitIfChanged();
  };

  #onDisconnect = (event: CustomEvent<PeerId>): void => {
    const peer = event.detail.toString();
    for (const view of this.workers()) {
      if (view.peerId !== peer) continue;
      const tracked = this.#tracked.get(view.name);
      if (tracked !== undefined) tracked.reachable = false;
    }
    this.#emitIfChanged();
  };

  #onConnect = (event: CustomEvent<PeerId>): void => {
    const peer = event.detail.toString();
    for (const view of this.workers()) {
      if (view.peerId === peer) this.#probe(view.name);
    }
  };

  #tick(): void {
    for (const view of this.workers()) {
      if (view.offlineReason === "stale" || view.offlineReason === "no-service") continue;
      this.#probe(view.name);
    }
    this.#emitIfChanged();
  }

  /** Pings the worker's peer (dialing it when needed) and records the outcome. */
  #probe(name: string): void {
    const tracked = this.#tracked.get(name);
    const view = this.workers().find((w) => w.name === name);
    if (tracked === undefined || view?.peerId === undefined || tracked.dialing) return;
    if (view.peerId === this.#network.peerId.toString()) {
      tracked.reachable = true;
      return;
    }
    tracked.dialing = true;
    this.#ping(view).then((outcome) => {
      tracked.failedPings = outcome === "ok" ? 0 : tracked.failedPings + 1;
      // A worker that cannot be dialled is gone; a slow ping on a live connection gets a
      // second chance before the worker leaves the view.
      tracked.reachable = outcome === "ok" ||
        (outcome === "ping-failed" && tracked.reachable &&
          tracked.failedPings < LIVENESS_MAX_FAILED_PINGS);
    }).finally(() => {
      tracked.dialing = false;
      this.#emitIfChanged();
    });
  }

  async #ping(view: WorkerView): Promise<"ok" | "unreachable" | "ping-failed"> {
    const signal = AbortSignal.timeout(LIVENESS_PING_TIMEOUT_MS);
    const peer = peerIdFromString(view.peerId!);
    if (!this.#connected(view.peerId!)) {
      try {
        await dialTarget(
          this.#network.node,
          { peerId: view.peerId!, multiaddrs: view.addresses },
          signal,
        );
      } catch (err) {
        log.debug("Cannot dial worker {name}: {error}", { name: view.name, error: String(err) });
        return "unreachable";
      }
    }
    try {
      await this.#network.node.services.ping.ping(peer, { signal });
      return "ok";
    } catch (err) {
      log.debug("Worker {name} did not answer a ping: {error}", {
        name: view.name,
        error: String(err),
      });
      return "ping-failed";
    }
  }

  #emitIfChanged(): void {
    const online = this.online().map((w) => `${w.name}@${w.peerId}`).join(",");
    if (online === this.#lastOnline) return;
    this.#lastOnline = online;
    this.dispatchEvent(new Event("change"));
  }
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
