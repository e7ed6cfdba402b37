import type { FederatedServerInit, FederatedStats } from "./options.ts";
import { getLogger } from "@logtape/logtape";
import type { Network } from "../network/network.ts";
import { bridge } from "../services/bridge.ts";
import type { PoolView, WorkerView } from "../services/pool.ts";
import { POOL_VIEWS } from "../services/pool_views.ts";
import { FEDERATED_POOL } from "../services/constants.ts";
import { poolBucket } from "../services/records.ts";
import { type NetworkComponent, type SharedKey, sharedKey } from "../network/components.ts";
import { listenTcp } from "../services/target.ts";
import { type ConfirmedStream, TUNNEL_DIALER, type TunnelDialer } from "../services/tunnel.ts";
import { announceUser } from "../services/users.ts";
import { ACCEPT_RETRY_MS } from "../services/constants.ts";
import { RepeatedWarning } from "../services/repeated_warning.ts";
import { Balancer } from "./balancer.ts";
import { ClientSlots } from "./client_slots.ts";
import {
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_DRAIN_TIMEOUT_S,
  DEFAULT_IDLE_TIMEOUT_S,
  DEFAULT_MAX_CLIENT_CONNECTIONS,
  FAILOVER_BUFFER_BYTES,
  MAX_WAITING_CLIENTS,
} from "./constants.ts";
import { Prefetcher } from "./prefetch.ts";
import { TUNNEL_BUFFERS, type TunnelBuffers } from "../services/tunnel_buffers.ts";
import { httpAnswer, NO_WORKERS_MESSAGE } from "./http_answer.ts";
import { closeQuietly, writeAll } from "../node/tcp_io.ts";

const log = getLogger(["p2p", "federated"]);

/**
 * `p2p federated`: a TCP load balancer over the online workers of a pool. Each client
 * connection goes to one worker through a tunnel; if opening the tunnel fails (timeout,
 * reset, the worker cannot reach its target) the next candidate is tried before any byte is
 * forwarded, with the client's early bytes held and delivered; with no worker online the
 * client gets LocalAI's `503` answer.
 *
 * A client that has sent nothing holds no worker resource: its tunnel opens on its first
 * byte (unless `openOnAccept`), so idle clients cannot use up the streams of a worker's
 * connection; idle connections are closed after `idleTimeoutS`.
 */
export class FederatedServer implements NetworkComponent {
  /**
   * The balancing policy and its per-worker counters.
   * @ignore
   */
  readonly balancer: Balancer;
  /** The pool this balancer spreads connections over: its workers, online or not. */
  readonly view: PoolView;
  #network: Network;
  #dialer: TunnelDialer;
  #buffers: TunnelBuffers;
  #init: Required<Omit<FederatedServerInit, "targetWorker">> & { bucket: string };
  #target: string | undefined;
  #listener: Deno.Listener | undefined;
  #slots: ClientSlots;
  #handlers = new Set<Promise<void>>();
  #loop: Promise<void> | undefined;
  #counters = {
    accepted: 0,
    refused: 0,
    evicted: 0,
    idleClosed: 0,
    noWorker: 0,
    failovers: 0,
    failed: 0,
  };
  #drained: (() => void) | undefined;
  #stopping: Promise<void> | undefined;
  // Each can happen once per client connection: a flood of clients must not flood the log.
  #warnings = {
    refused: new RepeatedWarning(
      log,
      "Refusing connections: {max} already tunnelled (--max-connections); {refused} so far",
    ),
    noWorker: new RepeatedWarning(log, "No worker online in {bucket}: answered 503"),
    targetDown: new RepeatedWarning(log, "Target worker {target} is {state}"),
    allFailed: new RepeatedWarning(log, "No worker could take a connection ({count} tried)"),
    accept: new RepeatedWarning(log, "Cannot accept a client connection: {error}"),
  };

  /**
   * Creates a balancer; it listens once started (see {@linkcode startFederated}).
   *
   * @param network The running network.
   * @param init Listen address, pool and policy.
   */
  constructor(network: Network, init: FederatedServerInit) {
    this.#network = network;
    this.#dialer = network.shared(TUNNEL_DIALER);
    this.#buffers = network.shared(TUNNEL_BUFFERS);
    const pool = init.pool ?? FEDERATED_POOL;
    this.#init = {
      listen: init.listen,
      pool,
      bucket: poolBucket(pool, network.networkId),
      strategy: init.strategy ?? "least-connections",
      maxConnections: init.maxConnections ?? DEFAULT_MAX_CLIENT_CONNECTIONS,
      connectTimeoutMs: init.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      drainTimeoutS: init.drainTimeoutS ?? DEFAULT_DRAIN_TIMEOUT_S,
      openOnAccept: init.openOnAccept ?? false,
      confirmFirst: init.confirmFirst ?? false,
      idleTimeoutS: init.idleTimeoutS ?? DEFAULT_IDLE_TIMEOUT_S,
    };
    this.#slots = new ClientSlots({
      maxTunnelled: this.#init.maxConnections,
      maxWaiting: MAX_WAITING_CLIENTS,
      idleTimeoutMs: this.#init.idleTimeoutS * 1000,
      close: (conn, why) => {
        this.#counters[why === "idle" ? "idleClosed" : "evicted"]++;
        closeQuietly(conn);
      },
    });
    // The pin is resolved here (by ID or by name) so that the balancer and the counters
    // always key workers by their real ID.
    this.#target = init.targetWorker;
    this.balancer = new Balancer({ strategy: this.#init.strategy });
    this.view = network.shared(POOL_VIEWS).get(this.#init.bucket);
  }

  /** The bound `host:port`. */
  get address(): string {
    const addr = this.#listener?.addr as Deno.NetAddr | undefined;
    return addr === undefined ? "" : `${addr.hostname}:${addr.port}`;
  }

  /**
   * Binds the listener, announces this node in `users` and follows the pool.
   *
   * @throws {InvalidAddressError} The listen address is malformed or cannot be bound.
   */
  async start(): Promise<void> {
    this.#listener = listenTcp(this.#init.listen, "--listen", "0.0.0.0");
    await announceUser(this.#network);
    this.view.addEventListener("change", this.#onPoolChange);
    this.#network.shared(FEDERATED_SERVERS).add(this);
    this.#loop = this.#acceptLoop(this.#listener);
    log.info("Balancing {address} over pool {bucket} ({strategy})", {
      address: this.address,
      bucket: this.#init.bucket,
      strategy: this.#init.strategy,
    });
  }

  /**
   * Stops accepting, lets open connections finish for up to the drain timeout, then closes
   * what is left.
   */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    try {
      this.#listener?.close();
    } catch {
      // already closed
    }
    await this.#loop;
    // Clients that said nothing have nothing to finish.
    for (const conn of this.#slots.waitingConns()) closeQuietly(conn);
    if (this.#slots.tunnelled > 0) {
      log.info("Draining {count} connections (up to {seconds} s)", {
        count: this.#slots.tunnelled,
        seconds: this.#init.drainTimeoutS,
      });
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        new Promise<void>((resolve) => (this.#drained = resolve)),
        new Promise((resolve) => (timer = setTimeout(resolve, this.#init.drainTimeoutS * 1000))),
      ]);
      // A drained server leaves no timer behind (it would hold a library user's process).
      clearTimeout(timer);
    }
    for (const conn of this.#slots.all()) closeQuietly(conn);
    await Promise.allSettled([...this.#handlers]);
    for (const warning of Object.values(this.#warnings)) warning.stop();
    this.view.removeEventListener("change", this.#onPoolChange);
    this.#network.shared(FEDERATED_SERVERS).delete(this);
  }

  /** The counters, with each known worker's online state. */
  stats(): FederatedStats {
    const views = new Map(this.view.workers().map((w) => [w.id, w]));
    return {
      listen: this.address,
      strategy: this.#init.strategy,
      targetWorker: this.#target,
      active: this.#slots.tunnelled,
      waiting: this.#slots.waiting,
      ...this.#counters,
      workers: this.balancer.stats().map((s) => ({
        ...s,
        name: views.get(s.id)?.name ?? "",
        online: views.get(s.id)?.online ?? false,
      })),
    };
  }

  #onPoolChange = (): void => {
    const online = this.view.online();
    for (const worker of online) this.balancer.reset(worker.id);
    log.info("Workers online in {bucket}: {count} ({ids})", {
      bucket: this.#init.bucket,
      count: online.length,
      ids: online.map((w) => w.id).join(", ") || "none",
    });
  };

  async #acceptLoop(listener: Deno.Listener): Promise<void> {
    while (true) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch (err) {
        if (err instanceof Deno.errors.BadResource) return; // closed
        // Out of file descriptors, say: keep serving once some are free again.
        this.#warnings.accept.warn({ error: err instanceof Error ? err.message : String(err) });
        await new Promise((resolve) => setTimeout(resolve, ACCEPT_RETRY_MS));
        continue;
      }
      this.#counters.accepted++;
      if (this.#init.openOnAccept) {
        if (!this.#slots.tunnel(conn)) {
          this.#refuse(conn);
          continue;
        }
      } else this.#slots.wait(conn);
      let bridged = false;
      const handled = this.#handle(conn, () => (bridged = true)).finally(() => {
        this.#slots.release(conn);
        this.#handlers.delete(handled);
        // The bridge closes what it was given: a second close would throw (and build an
        // error, a cost measured per connection).
        if (!bridged) closeQuietly(conn);
        if (this.#slots.tunnelled === 0) this.#drained?.();
      });
      this.#handlers.add(handled);
    }
  }

  #refuse(conn: Deno.Conn): void {
    this.#counters.refused++;
    closeQuietly(conn);
    this.#warnings.refused.warn({
      max: this.#init.maxConnections,
      refused: this.#counters.refused,
    });
  }

  #workersFor(): WorkerView[] {
    const target = this.#target;
    const online = this.view.online();
    if (target === undefined) return online;
    // Accept LocalAI's worker ID (`<host>-<name>`) or the bare name; an ID match wins.
    const byId = online.filter((w) => w.id === target);
    return byId.length > 0 ? byId : online.filter((w) => w.name === target);
  }

  async #handle(conn: Deno.Conn, onBridged: () => void): Promise<void> {
    const prefetch = new Prefetcher(conn, FAILOVER_BUFFER_BYTES, () => this.#slots.touch(conn));
    if (!this.#init.openOnAccept) {
      // Client-first: nothing is opened for a client until it speaks.
      if (!await prefetch.firstData()) return;
      if (!this.#slots.tunnel(conn)) return this.#refuse(conn);
    }
    const workers = this.#workersFor();
    if (workers.length === 0) {
      await this.#answerNoWorker(conn);
      return;
    }
    const byId = new Map(workers.map((w) => [w.id, w]));
    const candidates = this.balancer.candidates([...byId.keys()]);
    for (const [attempt, id] of candidates.entries()) {
      const worker = byId.get(id)!;
      this.balancer.attempt(id);
      const started = performance.now();
      // The held bytes go with the stream's proposal; kept until confirmed, for a failover.
      const ahead = this.#init.confirmFirst ? [] : prefetch.held();
      const opened = await this.#open(worker, ahead);
      if (opened === undefined) {
        this.balancer.fail(id);
        continue;
      }
      const sentAhead = opened.sentAhead ? ahead.reduce((n, b) => n + b.byteLength, 0) : 0;
      if (opened.sentAhead) prefetch.drop(ahead.length);
      if (attempt > 0) this.#counters.failovers++;
      onBridged();
      await this.#pipe(conn, id, opened, prefetch, performance.now() - started, sentAhead);
      return;
    }
    this.#counters.failed++;
    this.#warnings.allFailed.warn({ count: candidates.length });
    await writeQuietly(conn, httpAnswer(503, NO_WORKERS_MESSAGE));
  }

  async #open(
    worker: WorkerView,
    ahead: Uint8Array[],
  ): Promise<ConfirmedStream | undefined> {
    try {
      return await this.#dialer.openConfirmed(
        { peerId: worker.peerId!, multiaddrs: worker.addresses },
        AbortSignal.timeout(this.#init.connectTimeoutMs),
        ahead,
      );
    } catch (err) {
      log.debug("Cannot open a tunnel to worker {id}: {error}", {
        id: worker.id,
        error: err instanceof Error ? err.message : String(err),
      });
      return undefined;
    }
  }

  async #pipe(
    conn: Deno.Conn,
    id: string,
    opened: ConfirmedStream,
    prefetch: Prefetcher,
    connectMs: number,
    sentAhead: number,
  ): Promise<void> {
    this.balancer.open(id, connectMs);
    let bytesSent = sentAhead;
    let bytesReceived = 0;
    try {
      if (opened.early !== undefined) {
        await writeQuietly(conn, opened.early);
        bytesReceived += opened.early.byteLength;
      }
      const result = await bridge(conn, opened.stream, {
        read: prefetch.read,
        buffers: this.#buffers,
        onBytes: () => this.#slots.touch(conn),
      });
      bytesSent += result.tcpToStream;
      bytesReceived += result.streamToTcp;
    } finally {
      this.balancer.close(id, { bytesSent, bytesReceived });
    }
  }

  async #answerNoWorker(conn: Deno.Conn): Promise<void> {
    const target = this.#target;
    if (target !== undefined) {
      this.#counters.noWorker++;
      const known = this.view.workers().some((w) => w.id === target || w.name === target);
      this.#warnings.targetDown.warn({
        target,
        state: known ? "offline" : "unknown in this pool",
      });
      await writeQuietly(
        conn,
        httpAnswer(503, `Target worker ${target} is ${known ? "offline" : "not in this pool"}`),
      );
      return;
    }
    this.#counters.noWorker++;
    this.#warnings.noWorker.warn({ bucket: this.#init.bucket });
    await writeQuietly(conn, httpAnswer(503, NO_WORKERS_MESSAGE));
  }
}

async function writeQuietly(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  await writeAll(conn, data).catch(() => {}); // the client went away
}

/** The federated balancers running on a network (the API shows their counters). */
export const FEDERATED_SERVERS: SharedKey<Set<FederatedServer>> = sharedKey(
  "federated servers",
  () => new Set<FederatedServer>(),
);

/**
 * Starts a federated load balancer on `network` (see {@linkcode FederatedServer}): it stops
 * with the network, or with its own `stop()`.
 *
 * @param network The running network.
 * @param init Where to listen, which pool, and the policy.
 * @returns The started balancer.
 */
export async function startFederated(
  network: Network,
  init: FederatedServerInit,
): Promise<FederatedServer> {
  return await network.add(new FederatedServer(network, init));
}
