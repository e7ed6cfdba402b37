import type { Strategy, WorkerStats } from "./balancer.ts";

/** Options of a {@linkcode FederatedServer}. */
export interface FederatedServerInit {
  /** `HOST:PORT` to listen on (`:8080` = every interface). */
  listen: string;
  /** The pool whose workers take the connections (its bucket gets the network ID prefix). @default {"federated"} */
  pool?: string;
  /** How a worker is chosen for each connection. @default {"least-connections"} */
  strategy?: Strategy;
  /** Pin every connection to this worker (its ID `<host>-<name>`, or its name). */
  targetWorker?: string | undefined;
  /**
   * Client connections with a tunnel at once; more are refused. At most `MAX_SERVICE_STREAMS`
   * (the tunnels one worker connection carries). @default {1024}
   */
  maxConnections?: number;
  /**
   * Open the tunnel when the client connects, not at its first byte: for server-first
   * protocols (the server speaks first: SSH, SMTP, MySQL). @default {false}
   */
  openOnAccept?: boolean;
  /**
   * Send nothing of the client's to a worker before it confirmed it reached its target: a
   * request then never reaches two backends, at one round trip more per connection. By
   * default the client's first bytes go with the stream's opening to a worker that confirmed
   * on the same connection before; they are resent to the next worker when that one cannot
   * take it, which delivers them twice only if that worker forwarded them and its
   * confirmation then did not arrive in time (its connection lost, or `connectTimeoutMs` run
   * out, in that moment). @default {false}
   */
  confirmFirst?: boolean;
  /** A client connection with no byte either way for this long is closed, in s. @default {300} */
  idleTimeoutS?: number;
  /** Bound on opening a tunnel to one worker before the next is tried, in ms. @default {3000} */
  connectTimeoutMs?: number;
  /** Time open connections get to finish on stop, in seconds. @default {10} */
  drainTimeoutS?: number;
}

/** Counters of the balancer as a whole. */
export interface FederatedStats {
  /** The bound `host:port`. */
  listen: string;
  /** How workers are chosen. */
  strategy: Strategy;
  /** The worker every connection is pinned to, if any. */
  targetWorker: string | undefined;
  /** Client connections accepted. */
  accepted: number;
  /** Client connections with a tunnel (or opening one). */
  active: number;
  /** Client connections that have sent nothing yet (they hold no tunnel). */
  waiting: number;
  /** Connections refused over `maxConnections`. */
  refused: number;
  /** Waiting connections closed to make room for newer ones. */
  evicted: number;
  /** Connections closed by the idle timeout. */
  idleClosed: number;
  /** Connections answered 503 because no worker was online. */
  noWorker: number;
  /** Connections that moved to another worker after a failed attempt. */
  failovers: number;
  /** Connections for which every online worker failed. */
  failed: number;
  /** Per-worker counters. */
  workers: (WorkerStats & { name: string; online: boolean })[];
}
