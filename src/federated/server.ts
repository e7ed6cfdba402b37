import { getLogger } from "@logtape/logtape";
import type { Stream } from "@libp2p/interface";
import type { Network } from "../ledger/network.ts";
import { bridge } from "../services/bridge.ts";
import { PoolView, type WorkerView } from "../services/pool.ts";
import { InvalidAddressError, parseTarget } from "../services/target.ts";
import { openConfirmedStream } from "../services/tunnel.ts";
import { announceUser } from "../services/users.ts";
import { Balancer, type Strategy, type WorkerStats } from "./balancer.ts";
import {
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_DRAIN_TIMEOUT_S,
  DEFAULT_MAX_CLIENT_CONNECTIONS,
  FAILOVER_BUFFER_BYTES,
  REFUSAL_LOG_INTERVAL_MS,
} from "./constants.ts";
import { Prefetcher } from "./prefetch.ts";
import { httpAnswer, NO_WORKERS_MESSAGE } from "./http_answer.ts";

const log = getLogger(["p2p", "federated"]);

/** Options of a {@linkcode FederatedServer}. */
export interface FederatedServerInit {
  /** `HOST:PORT` to listen on (`:8080` = every interface). */
  listen: string;
  /** The pool bucket (`[networkId_]federated`). */
  bucket: string;
  /** @default {"least-connections"} */
  strategy?: Strategy;
  /** Pin every connection to this worker (its ID `<host>-<name>`, or its name). */
  targetWorker?: string | undefined;
  /** Concurrent client connections; more are refused. @default {1024} */
  maxConnections?: number;
  /** Bound on opening a tunnel to one worker before the next is tried, in ms. @default {3000} */
  connectTimeoutMs?: number;
  /** Time open connections get to finish on stop, in seconds. @default {10} */
  drainTimeoutS?: number;
  /** A shared, already started view of the pool (it is then not stopped with the server). */
  view?: PoolView;
}

/** Counters of the balancer as a whole. */
export interface FederatedStats {
  listen: string;
  strategy: Strategy;
  targetWorker: string | undefined;
  /** Client connections accepted. */
  accepted: number;
  /** Open client connections. */
  active: number;
  /** Connections refused over `maxConnections`. */
  refused: number;
  /** Connections answered 503 because no worker was online. */
  noWorker: number;
  /** Connections that moved to another worker after a failed attempt. */
  failovers: number;
  /** Connections for which every online worker failed. */
  failed: number;
  /** Per-worker counters. */
  workers: (WorkerStats & { name: string; online: boolean })[];
}

/**
 * `p2p federated`: a TCP load balancer over the online workers of a pool. Each client
 * connection goes to one worker through a tunnel; if opening the tunnel fails (timeout,
 * reset, the worker cannot reach its target) the next candidate is tried before any byte is
 * forwarded, with the client's early bytes held and delivered; with no worker online the
 * client gets LocalAI's `503` answer.
 */
export class FederatedServer {
  readonly balancer: Balancer;
  readonly view: PoolView;
  #network: Network;
  #init: Required<Omit<FederatedServerInit, "targetWorker" | "view">>;
  #ownsView: boolean;
  #target: string | undefined;
  #listener: Deno.Listener | undefined;
  #conns = new Set<Deno.Conn>();
  #loop: Promise<void> | undefined;
  #counters = { accepted: 0, refused: 0, noWorker: 0, failovers: 0, failed: 0 };
  #lastRefusalLog = 0;
  #idle: (() => void) | undefined;

  /** @param network The running network. @param init Listen address, pool and policy. */
  constructor(network: Network, init: FederatedServerInit) {
    this.#network = network;
    this.#init = {
      listen: init.listen,
      bucket: init.bucket,
      strategy: init.strategy ?? "least-connections",
      maxConnections: init.maxConnections ?? DEFAULT_MAX_CLIENT_CONNECTIONS,
      connectTimeoutMs: init.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      drainTimeoutS: init.drainTimeoutS ?? DEFAULT_DRAIN_TIMEOUT_S,
    };
    // The pin is resolved here (by ID or by name) so that the balancer and the counters
    // always key workers by their real ID.
    this.#target = init.targetWorker;
    this.balancer = new Balancer({ strategy: this.#init.strategy });
    this.#ownsView = init.view === undefined;
    this.view = init.view ?? new PoolView(network, {
      bucket: init.bucket,
    });
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
   * @throws {Deno.errors.AddrInUse} The port is taken.
   */
  async start(): Promise<void> {
    const { hostname, port } = parseTarget(this.#init.listen, "--listen");
    try {
      this.#listener = Deno.listen({ hostname, port });
    } catch (err) {
      // Name the input: the OS error alone ("Address already in use (os error 98)") does not.
      if (err instanceof Deno.errors.AddrInUse) {
        throw new Deno.errors.AddrInUse(
          `Cannot listen on --listen "${this.#init.listen}": the address is already in use`,
        );
      }
      throw new InvalidAddressError(
        `Cannot listen on --listen "${this.#init.listen}": ${
          err instanceof Error ? err.message : String(err)
        }`,
      );
    }
    await announceUser(this.#network);
    this.view.addEventListener("change", this.#onPoolChange);
    if (this.#ownsView) this.view.start();
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
  async stop(): Promise<void> {
    try {
      this.#listener?.close();
    } catch {
      // already closed
    }
    await this.#loop;
    if (this.#conns.size > 0) {
      log.info("Draining {count} connections (up to {seconds} s)", {
        count: this.#conns.size,
        seconds: this.#init.drainTimeoutS,
      });
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        new Promise<void>((resolve) => (this.#idle = resolve)),
        new Promise((resolve) => (timer = setTimeout(resolve, this.#init.drainTimeoutS * 1000))),
      ]);
      // A drained server leaves no timer behind (it would hold a library user's process).
      clearTimeout(timer);
    }
    for (const conn of this.#conns) closeQuietly(conn);
    this.view.removeEventListener("change", this.#onPoolChange);
    if (this.#ownsView) this.view.stop();
  }

  /** The counters, with each known worker's online state. */
  stats(): FederatedStats {
    const views = new Map(this.view.workers().map((w) => [w.id, w]));
    return {
      listen: this.address,
      strategy: this.#init.strategy,
      targetWorker: this.#target,
      active: this.#conns.size,
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
      } catch {
        return; // closed
      }
      if (this.#conns.size >= this.#init.maxConnections) {
        this.#refuse(conn);
        continue;
      }
      this.#counters.accepted++;
      this.#conns.add(conn);
      void this.#handle(conn).finally(() => {
        this.#conns.delete(conn);
        closeQuietly(conn);
        if (this.#conns.size === 0) this.#idle?.();
      });
    }
  }

  #refuse(conn: Deno.Conn): void {
    this.#counters.refused++;
    closeQuietly(conn);
    const now = Date.now();
    if (now - this.#lastRefusalLog < REFUSAL_LOG_INTERVAL_MS) return;
    this.#lastRefusalLog = now;
    log.warning("Refusing connections: {max} already open (--max-connections); {refused} so far", {
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

  async #handle(conn: Deno.Conn): Promise<void> {
    const prefetch = new Prefetcher(conn, FAILOVER_BUFFER_BYTES);
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
      const opened = await this.#open(worker);
      if (opened === undefined) {
        this.balancer.fail(id);
        continue;
      }
      if (attempt > 0) this.#counters.failovers++;
      await this.#pipe(conn, id, opened, prefetch);
      return;
    }
    this.#counters.failed++;
    log.warning("No worker could take a connection ({count} tried)", { count: candidates.length });
    await writeQuietly(conn, httpAnswer(503, NO_WORKERS_MESSAGE));
  }

  async #open(
    worker: WorkerView,
  ): Promise<{ stream: Stream; early: Uint8Array | undefined } | undefined> {
    try {
      return await openConfirmedStream(
        this.#network.node,
        { peerId: worker.peerId!, multiaddrs: worker.addresses },
        AbortSignal.timeout(this.#init.connectTimeoutMs),
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
    opened: { stream: Stream; early: Uint8Array | undefined },
    prefetch: Prefetcher,
  ): Promise<void> {
    this.balancer.open(id);
    let bytesIn = 0;
    let bytesOut = 0;
    try {
      if (opened.early !== undefined) {
        await writeQuietly(conn, opened.early);
        bytesOut += opened.early.byteLength;
      }
      const result = await bridge(conn, opened.stream, { read: prefetch.read });
      bytesIn += result.tcpToStream;
      bytesOut += result.streamToTcp;
    } finally {
      this.balancer.close(id, { bytesIn, bytesOut });
    }
  }

  async #answerNoWorker(conn: Deno.Conn): Promise<void> {
    const target = this.#target;
    if (target !== undefined) {
      this.#counters.noWorker++;
      const known = this.view.workers().some((w) => w.id === target || w.name === target);
      log.warning("Target worker {target} is {state}", {
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
    log.warning("No worker online in {bucket}: answered 503", { bucket: this.#init.bucket });
    await writeQuietly(conn, httpAnswer(503, NO_WORKERS_MESSAGE));
  }
}

async function writeQuietly(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  try {
    for (let offset = 0; offset < data.byteLength;) {
      offset += await conn.write(data.subarray(offset));
    }
  } catch {
    // the client went away
  }
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // already closed
  }
}
