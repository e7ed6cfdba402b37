import { getLogger } from "@logtape/logtape";
import type { PeerId, PeerInfo, PrivateKey } from "@libp2p/interface";
import { generateKeyPair } from "@libp2p/crypto/keys";
import { peerIdFromString } from "@libp2p/peer-id";
import { EntryClaims } from "../ledger/claims.ts";
import { MAX_CLAIMS } from "../ledger/constants.ts";
import { type BlockDelivery, blockDelivery } from "../ledger/block_delivery.ts";
import { LedgerHub } from "../ledger/hub.ts";
import { Ledger } from "../ledger/ledger.ts";
import { type PeerEntry, type Signed, signEntry } from "../ledger/signed_entry.ts";
import { createLibp2pNode, gossipLimit, type P2PLibp2p } from "../node/create_node.ts";
import type { Liveness } from "../node/liveness.ts";
import type { Membership } from "../node/membership.ts";
import { loadOrCreateIdentity } from "../node/identity.ts";
import { fingerprint } from "../token/derive.ts";
import { decodeToken, encodeToken, type NetworkToken } from "../token/token.ts";
import type { NetworkComponent, SharedKey } from "./components.ts";
import { ensureDefaultLogging } from "./default_logging.ts";
import type { NetworkEvents } from "./events.ts";
import { TypedEvents } from "./typed_events.ts";
import { startHeartbeat } from "./heartbeat.ts";
import { BoundedSet, namesItsSender } from "./member_gossip.ts";
import { watchLoneliness } from "./loneliness.ts";
import type { NetworkOptions } from "./options.ts";
import type { Registry } from "prom-client";

const log = getLogger(["p2p", "node"]);

interface Parts {
  node: P2PLibp2p;
  ledger: Ledger;
  hub: LedgerHub;
  delivery: BlockDelivery;
  token: NetworkToken;
  tokenText: string;
  privateKey: PrivateKey;
  options: NetworkOptions;
  now: () => number;
  metricsRegistry: Registry | undefined;
}

/**
 * prom-client, loaded when metrics are on. It is CommonJS: Deno exposes its exports as named
 * ones, the release bundle (esbuild) only as `default`.
 */
async function promClient(): Promise<typeof import("prom-client")> {
  const mod = await import("prom-client");
  return (mod as unknown as { default?: typeof mod }).default ?? mod;
}

/**
 * A running p2p node on one token's network: the libp2p node (discovery, membership,
 * liveness, guards), the sealed ledger with its heartbeat, and the components a program adds
 * (services, workers, the federated balancer, the API, messaging). The CLI and the library
 * run the same object; stop it (or `await using` it) and everything stops.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { generateToken, startNetwork } from "@p2p/p2p";
 *
 * await using network = await startNetwork({
 *   token: generateToken(),
 *   listen: ["/ip4/127.0.0.1/tcp/0"],
 *   bootstrapPeers: [],
 *   mdns: false,
 * });
 * await network.ledger.put("hello", "from", network.peerId.toString());
 * assert.equal(network.ledger.get("hello", "from"), network.peerId.toString());
 * ```
 */
export class Network extends TypedEvents<NetworkEvents> implements AsyncDisposable {
  /**
   * The started libp2p node, for what p2p does not wrap.
   * @ignore
   */
  readonly node: P2PLibp2p;
  /** The replicated ledger of the token's network. */
  readonly ledger: Ledger;
  /**
   * The sealed gossip channel the ledger travels on.
   * @ignore
   */
  readonly hub: LedgerHub;
  /** The network token. */
  readonly token: NetworkToken;
  /** A short, safe-to-log tag of the token's text. */
  readonly tokenFingerprint: string;
  /** The pool bucket prefix (`--network-id`), if any. */
  readonly networkId: string | undefined;
  /** The entries readers honour: signed entries win over unsigned or foreign ones. */
  readonly claims: EntryClaims;
  /** When the node started, in milliseconds since the epoch. */
  readonly startedAt: number;
  /** The clock the node and ledger use. */
  readonly now: () => number;
  /**
   * The registry of `/metrics` when started with `metrics: true` (libp2p's series in it).
   * @ignore
   */
  readonly metricsRegistry: Registry | undefined;
  #privateKey: PrivateKey;
  #delivery: BlockDelivery;
  #tokenText: string;
  #components: NetworkComponent[] = [];
  #shared = new Map<SharedKey<unknown>, unknown>();
  #detach: (() => void)[] = [];
  #stopping: Promise<void> | undefined;

  private constructor(parts: Parts) {
    super();
    this.node = parts.node;
    this.ledger = parts.ledger;
    this.hub = parts.hub;
    this.#delivery = parts.delivery;
    this.token = parts.token;
    this.#tokenText = parts.tokenText;
    this.tokenFingerprint = fingerprint(parts.tokenText);
    this.networkId = parts.options.networkId;
    this.#privateKey = parts.privateKey;
    this.now = parts.now;
    this.startedAt = parts.now();
    this.metricsRegistry = parts.metricsRegistry;
    const gone = new BoundedSet<string>(MAX_CLAIMS);
    this.claims = new EntryClaims({
      read: (bucket, key) => {
        const entries = this.ledger.storage[bucket];
        return entries !== undefined && Object.hasOwn(entries, key) ? entries[key] : undefined;
      },
      keys: (bucket) => Object.keys(this.ledger.storage[bucket] ?? {}),
      ownerState: (peer) =>
        this.isConnected(peer) ? "connected" : gone.has(peer) ? "gone" : "unknown",
      now: this.now,
    });
    this.#forwardEvents(gone);
  }

  /**
   * Assembles and starts a node on the token's network, joins its sealed ledger and writes
   * the `healthcheck` heartbeat, as an edgevpn node does.
   *
   * @param options The token (its text, or decoded) and the options; or just the token's text.
   * @returns The running network.
   * @throws {InvalidTokenError} The token cannot be decoded.
   */
  static async start(options: NetworkOptions | string): Promise<Network> {
    const opts: NetworkOptions = typeof options === "string" ? { token: options } : options;
    ensureDefaultLogging();
    const token = typeof opts.token === "string" ? decodeToken(opts.token) : opts.token;
    const tokenText = typeof opts.token === "string" ? opts.token.trim() : encodeToken(token);
    const now = opts.now ?? Date.now;
    // Held here (not only inside libp2p) to sign this node's own ledger entries.
    const privateKey = opts.privateKey ??
      (opts.identity === undefined
        ? await generateKeyPair("Ed25519")
        : await loadOrCreateIdentity(opts.identity));
    // Dedicated: @libp2p/prometheus-metrics resets prom-client's global registry.
    const metricsRegistry = opts.metrics ? new (await promClient()).Registry() : undefined;
    const node = await createLibp2pNode({
      ...opts,
      token,
      privateKey,
      ...(metricsRegistry === undefined ? {} : { metricsRegistry }),
    });
    const delivery = blockDelivery({
      isMember: (peer) => node.services.membership.isMember(peer),
      maxInboundBytes: token.maxMessageSize,
    })(node);
    const hub = new LedgerHub({
      pubsub: node.services.pubsub,
      token,
      maxMessageBytes: gossipLimit(token),
      now,
      delivery,
    });
    const ledger = new Ledger({
      channel: hub,
      now,
      ...(opts.syncIntervalMs === undefined ? {} : { syncIntervalMs: opts.syncIntervalMs }),
    });
    const network = new Network({
      node,
      ledger,
      hub,
      delivery,
      token,
      tokenText,
      privateKey,
      options: opts,
      now,
      metricsRegistry,
    });
    await opts.beforeStart?.(node);
    // Before the start, so that the first identify names the protocol.
    await delivery.start();
    await node.start();
    hub.start();
    ledger.start();
    if (opts.healthcheck !== false) {
      network.#detach.push(startHeartbeat(ledger, node.peerId.toString(), now));
    }
    if (opts.lonelyAfterMs !== 0) {
      network.#detach.push(watchLoneliness(network, opts.lonelyAfterMs));
    }
    log.info("Node {peerId} started (token {token})", {
      peerId: node.peerId.toString(),
      token: network.tokenFingerprint,
    });
    return network;
  }

  /** The node's peer ID. */
  get peerId(): string {
    return this.node.peerId.toString();
  }

  /**
   * Who has proved to hold the token: only those are routed to or served.
   * @ignore
   */
  get membership(): Membership {
    return this.node.services.membership;
  }

  /**
   * Whether the peers pools and services rely on answer (one state per peer).
   * @ignore
   */
  get liveness(): Liveness {
    return this.node.services.liveness;
  }

  /**
   * The node's key: it signs this node's records and messages. A secret: never send it.
   * @ignore
   */
  get privateKey(): PrivateKey {
    return this.#privateKey;
  }

  /** The token as text (what `p2p token` prints): a secret, never log it. */
  get tokenText(): string {
    return this.#tokenText;
  }

  /** Whether the network runs (not stopping or stopped). */
  get running(): boolean {
    return this.#stopping === undefined;
  }

  /** The addresses other nodes can dial, with `/p2p/<id>`. */
  addresses(): string[] {
    return this.node.getMultiaddrs().map(String);
  }

  /** Whether `peer` proved it holds the token (this node always has). */
  isMember(peer: string): boolean {
    return this.membership.isMember(peer);
  }

  /** The peers that proved they hold the token. */
  members(): string[] {
    return this.membership.members();
  }

  /** Whether this node has an open connection to `peer`. */
  isConnected(peer: string): boolean {
    try {
      return this.node.getConnections(peerIdFromString(peer)).length > 0;
    } catch {
      return false;
    }
  }

  /**
   * Signs an entry about this node with its key (see `signEntry`).
   *
   * @param bucket The bucket it goes to.
   * @param key Its key.
   * @param value The entry; `PeerID` is set to this node's ID.
   * @returns The entry with its `Signature`, ready for `ledger.put`.
   * @ignore
   */
  sign<T extends object>(bucket: string, key: string, value: T): Promise<Signed<T & PeerEntry>> {
    return signEntry(this.#privateKey, bucket, key, { ...value, PeerID: this.peerId.toString() });
  }

  /**
   * Starts `component` and stops it when the network stops (components stop in reverse order
   * of addition, before the ledger and the node).
   *
   * @returns The component, started.
   */
  async add<C extends NetworkComponent>(component: C): Promise<C> {
    if (!this.running) throw new Error("Cannot add a component: the network is stopped");
    await component.start();
    this.#components.push(component);
    return component;
  }

  /**
   * Ties something already running to the network: its `stop()` becomes idempotent, runs
   * when the network stops, and forgets it here when called first.
   *
   * @returns The same object.
   */
  async adopt<T extends { stop(): Promise<void> }>(running: T): Promise<T> {
    const stop = running.stop.bind(running);
    let stopping: Promise<void> | undefined;
    const component: NetworkComponent = {
      start: () => {},
      stop: () => (stopping ??= stop()),
    };
    running.stop = () => {
      const index = this.#components.indexOf(component);
      if (index !== -1) this.#components.splice(index, 1);
      return component.stop() as Promise<void>;
    };
    await this.add(component);
    return running;
  }

  /** Stops `component` now and forgets it (it is no longer stopped with the network). */
  async remove(component: NetworkComponent): Promise<void> {
    const index = this.#components.indexOf(component);
    if (index === -1) return;
    this.#components.splice(index, 1);
    await component.stop();
  }

  /** The network's instance of a per-network singleton, made on first use. */
  shared<T>(key: SharedKey<T>): T {
    if (!this.#shared.has(key as SharedKey<unknown>)) {
      this.#shared.set(key as SharedKey<unknown>, key.create(this));
    }
    return this.#shared.get(key as SharedKey<unknown>) as T;
  }

  /** Reports a background failure: logged, and dispatched as an `error` event. */
  reportError(source: string, error: unknown): void {
    const err = error instanceof Error ? error : new Error(String(error));
    log.warning("{source} failed: {error}", { source, error: err.message });
    this.safeDispatchEvent("error", { detail: { source, error: err } });
  }

  /** Stops the components, the ledger, the heartbeat and the node; idempotent. */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  /** `await using network = …` stops it at the end of the scope. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  async #stop(): Promise<void> {
    for (const component of this.#components.reverse()) {
      await Promise.resolve(component.stop()).catch((err) => this.reportError("stop", err));
    }
    this.#components = [];
    for (const value of this.#shared.values()) {
      const stoppable = value as { stop?: () => unknown };
      if (typeof stoppable.stop === "function") await stoppable.stop();
    }
    for (const detach of this.#detach) detach();
    this.ledger.stop();
    this.hub.stop();
    await this.#delivery.stop();
    await this.node.stop();
  }

  #forwardEvents(gone: BoundedSet<string>): void {
    const node = this.node;
    const on = <T>(target: EventTarget, type: string, handler: (detail: T) => void): void => {
      const listener =
        ((event: CustomEvent<T>) => handler(event.detail)) as unknown as EventListener;
      target.addEventListener(type, listener);
      this.#detach.push(() => target.removeEventListener(type, listener));
    };
    on<PeerId>(node, "peer:connect", (peer) => {
      gone.delete(peer.toString());
      this.safeDispatchEvent("peer:connected", { detail: { peerId: peer.toString() } });
    });
    on<PeerId>(node, "peer:disconnect", (peer) => {
      gone.add(peer.toString());
      this.safeDispatchEvent("peer:disconnected", { detail: { peerId: peer.toString() } });
    });
    on<PeerInfo>(node, "peer:discovery", (info) => {
      this.safeDispatchEvent("peer:discovered", {
        detail: { peerId: info.id.toString(), addresses: info.multiaddrs.map(String) },
      });
    });
    on<{ block: { Index: number }; local: boolean }>(this.ledger, "change", (change) => {
      this.safeDispatchEvent("ledger:changed", {
        detail: { index: change.block.Index, local: change.local },
      });
    });
    on<string>(this.membership, "member:proven", (peer) => {
      // A newly proved member gets the state at once (strangers were sent nothing).
      this.hub.peerJoined(peer);
      const by = this.membership.proofOf(peer) ?? "challenge";
      this.safeDispatchEvent("member:proven", { detail: { peerId: peer, by } });
    });
    this.hub.onReject((reason, from, via) => {
      // Strangers that send or relay junk are cut off; members only see it dropped.
      const guard = node.services.peerGuard;
      guard.punish(via, `invalid ledger message (${reason})`);
      if (from !== via) guard.punish(from, `invalid ledger message (${reason})`);
    });
    this.hub.onBlock((block, from) => {
      if (from !== "" && namesItsSender(block, from)) this.membership.prove(from, "gossip");
    });
  }
}

/**
 * Starts a node on a token's network (see {@linkcode Network}).
 *
 * @param options The token (its text, or decoded) and the options; or just the token's text.
 * @returns The running network.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { generateToken, startNetwork } from "@p2p/p2p";
 *
 * const network = await startNetwork({
 *   token: generateToken(),
 *   listen: ["/ip4/127.0.0.1/tcp/0"],
 *   bootstrapPeers: [],
 *   mdns: false,
 * });
 * try {
 *   assert.ok(network.addresses().length > 0);
 * } finally {
 *   await network.stop();
 * }
 * ```
 */
export function startNetwork(options: NetworkOptions | string): Promise<Network> {
  return Network.start(options);
}
