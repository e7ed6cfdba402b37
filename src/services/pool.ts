import type { Network } from "../network/network.ts";
import type { EffectiveEntry } from "../ledger/claims.ts";
import {
  ONLINE_LIST_REUSE_MS,
  ONLINE_WINDOW_MS,
  SERVICES_BUCKET,
  STALENESS_CHECK_INTERVAL_MS,
} from "./constants.ts";
import { asNodeData, asServiceRecord, type NodeData, parseGoTime } from "./records.ts";

/** One worker of a pool as this node sees it. */
export interface WorkerView {
  /** The key of its entry (its service name). */
  name: string;
  /** LocalAI's worker ID (`<hostname>-<name>`). */
  id: string;
  /** The peer serving it: the signer of its entry, or its `services` record's peer. */
  peerId: string | undefined;
  /** Its addresses, as it announced them in a signed entry (none for unsigned entries). */
  addresses: string[];
  /** `LastSeen` as the worker wrote it (its clock). */
  lastSeen: string;
  /** When this node last received a refresh of the entry (this node's clock, ms). */
  receivedAt: number;
  /** Whether it is routable now: fresh, a proved member, connected, answering pings. */
  online: boolean;
  /** Why it is offline, when it is. */
  offlineReason?: "stale" | "disconnected" | "unreachable" | "no-service" | "unproven";
  /** Whether its entry is signed by its peer (p2p workers) or not (LocalAI workers). */
  signed: boolean;
  /** The raw entry. */
  data: NodeData;
}

/** Options of a {@linkcode PoolView}. */
export interface PoolViewInit {
  /** The pool bucket (`[networkId_]pool`). */
  bucket: string;
  /** Entries not refreshed for this long (this node's clock) are offline. @default {40000} */
  onlineWindowMs?: number;
}

interface Tracked {
  json: string;
  receivedAt: number;
}

/**
 * The online workers of a pool. Freshness is judged on this node's clock (when an update
 * was received), not on the worker's `LastSeen`, so clock skew does not matter; a worker
 * whose connection closes or whose pings fail leaves the view at once and returns when it is
 * reachable again, instead of 40 s later (one liveness state per peer, however many entries
 * name it); and only workers whose peer proved it holds the token are online. Entries are
 * read through the network's claims: a worker's signed entry is not displaced by an entry
 * another member writes under its name.
 *
 * Emits `change` whenever the online set changes.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { startNetwork } from "@p2p/p2p";
 * import { PoolView } from "./pool.ts";
 * import { startWorker, WORKER_POOL } from "@p2p/p2p";
 * import { generateTokenConfig } from "../token/token.ts";
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
  #tracked = new Map<string, Tracked>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #lastOnline = new Map<string, WorkerView>();
  /** The last online list and when it was made; dropped whenever a followed source changes. */
  #online: { at: number; workers: WorkerView[] } | undefined;

  /**
   * Creates a view of one pool; it follows nothing until {@linkcode PoolView.start}.
   *
   * @param network The running network.
   * @param init The bucket and timings.
   */
  constructor(network: Network, init: PoolViewInit) {
    super();
    this.#network = network;
    this.bucket = init.bucket;
    this.#window = init.onlineWindowMs ?? ONLINE_WINDOW_MS;
  }

  /** Follows the ledger, membership proofs and the liveness of the workers' peers. */
  start(): void {
    if (this.#timer !== undefined) return;
    // Entries go stale without any event: look again every second.
    this.#timer = setInterval(() => this.#onChange(), STALENESS_CHECK_INTERVAL_MS);
    this.#network.ledger.addEventListener("change", this.#onLedger);
    this.#network.node.services.liveness.addEventListener("change", this.#onChange);
    this.#network.membership.addEventListener("member:proven", this.#onChange);
    this.#onLedger();
  }

  /** Stops following and watching. */
  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#network.ledger.removeEventListener("change", this.#onLedger);
    this.#network.node.services.liveness.removeEventListener("change", this.#onChange);
    this.#network.membership.removeEventListener("member:proven", this.#onChange);
    this.#network.node.services.liveness.watch(this, new Map());
  }

  /** Every worker of the pool, online or not, sorted by ID. */
  workers(): WorkerView[] {
    const now = this.#network.now();
    const views: WorkerView[] = [];
    for (const [name, entry] of this.#network.claims.entries(this.bucket)) {
      const data = asNodeData(entry.value);
      const tracked = this.#tracked.get(name);
      if (data === undefined || tracked === undefined) continue;
      const peerId = this.#peerOf(name, data, entry);
      const reason = this.#offlineReason(peerId, tracked, now);
      views.push({
        name,
        id: data.ID || name,
        peerId,
        addresses: entry.signer !== undefined && entry.signer === peerId
          ? data.Multiaddrs ?? []
          : [],
        lastSeen: data.LastSeen,
        receivedAt: tracked.receivedAt,
        online: reason === undefined,
        ...(reason === undefined ? {} : { offlineReason: reason }),
        signed: entry.signer !== undefined,
        data,
      });
    }
    return views.sort((a, b) => a.id.localeCompare(b.id));
  }

  /**
   * The workers that can take connections now (the list is reused for up to 250 ms while the
   * ledger, liveness and membership report no change).
   */
  online(): WorkerView[] {
    const now = this.#network.now();
    const last = this.#online;
    if (last !== undefined && now >= last.at && now - last.at <= ONLINE_LIST_REUSE_MS) {
      return [...last.workers];
    }
    const workers = this.workers().filter((w) => w.online);
    this.#online = { at: now, workers };
    return [...workers];
  }

  #offlineReason(
    peerId: string | undefined,
    tracked: Tracked,
    now: number,
  ): WorkerView["offlineReason"] {
    if (peerId === undefined) return "no-service";
    if (now - tracked.receivedAt > this.#window) return "stale";
    if (!this.#network.membership.isMember(peerId)) return "unproven";
    if (peerId === this.#network.peerId.toString()) return undefined;
    const liveness = this.#network.node.services.liveness;
    if (liveness.isReachable(peerId)) return undefined;
    return liveness.isConnected(peerId) ? "unreachable" : "disconnected";
  }

  /**
   * The peer behind an entry: a signed entry names its signer; an unsigned (LocalAI) entry
   * is served by the peer of its `services` record, as LocalAI looks it up.
   */
  #peerOf(name: string, data: NodeData, entry: EffectiveEntry): string | undefined {
    if (entry.signer !== undefined) return entry.signer;
    const record = asServiceRecord(
      this.#network.claims.get(SERVICES_BUCKET, data.ServiceID || name)?.value,
    );
    return record?.PeerID;
  }

  #onLedger = (): void => {
    this.#online = undefined;
    const entries = this.#network.ledger.storage[this.bucket] ?? {};
    const now = this.#network.now();
    for (const [name, json] of Object.entries(entries)) {
      const tracked = this.#tracked.get(name);
      if (tracked === undefined) {
        // First sight: its LastSeen (on the writer's clock) must look recent to count as fresh.
        const lastSeen = parseGoTime(asNodeData(safeParse(json))?.LastSeen ?? "") ?? 0;
        const receivedAt = Math.abs(now - lastSeen) <= this.#window ? now : lastSeen;
        this.#tracked.set(name, { json, receivedAt });
      } else if (tracked.json !== json) {
        tracked.json = json;
        tracked.receivedAt = now;
      }
    }
    const claimed = this.#network.claims.entries(this.bucket);
    for (const name of this.#tracked.keys()) if (!claimed.has(name)) this.#tracked.delete(name);
    this.#watchPeers();
    this.#onChange();
  };

  /** Liveness watches the peers of fresh entries, at the addresses their signed entries give. */
  #watchPeers(): void {
    const now = this.#network.now();
    const self = this.#network.peerId.toString();
    const peers = new Map<string, string[]>();
    for (const worker of this.workers()) {
      if (worker.peerId === undefined || worker.peerId === self) continue;
      if (now - worker.receivedAt > this.#window) continue;
      peers.set(worker.peerId, [...(peers.get(worker.peerId) ?? []), ...worker.addresses]);
    }
    this.#network.node.services.liveness.watch(this, peers);
  }

  /** Emits `change` when the online set changes, and the network's worker events. */
  #onChange = (): void => {
    this.#online = undefined;
    const workers = this.workers();
    const online = new Map(workers.filter((w) => w.online).map((w) => [keyOf(w), w]));
    const before = this.#lastOnline;
    if (online.size === before.size && [...online.keys()].every((k) => before.has(k))) return;
    this.#lastOnline = online;
    const network = this.#network;
    for (const [key, worker] of online) {
      if (before.has(key)) continue;
      network.safeDispatchEvent("worker:online", {
        detail: { pool: this.bucket, worker: worker.name, peerId: worker.peerId ?? "" },
      });
    }
    for (const [key, worker] of before) {
      if (online.has(key)) continue;
      const now = workers.find((w) => keyOf(w) === key);
      network.safeDispatchEvent("worker:offline", {
        detail: { pool: this.bucket, worker: worker.name, reason: now?.offlineReason ?? "gone" },
      });
    }
    this.dispatchEvent(new Event("change"));
  };
}

function keyOf(worker: WorkerView): string {
  return `${worker.name}@${worker.peerId}`;
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
