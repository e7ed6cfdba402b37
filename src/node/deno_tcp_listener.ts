/**
 * The listener of {@linkcode denoTcp} (see `deno_tcp.ts`).
 *
 * @module
 */
import {
  type ComponentLogger,
  type CreateListenerOptions,
  type Listener,
  type ListenerEvents,
  type Logger,
  type MultiaddrConnection,
  TypedEventEmitter,
} from "@libp2p/interface";
import { getNetConfig, getThinWaistAddresses } from "@libp2p/utils";
import type { Multiaddr } from "@multiformats/multiaddr";
import { DENO_TCP_ACCEPT_RETRY_MS } from "./deno_tcp_constants.ts";
import { listenReusable } from "./reuse_port.ts";
import { closeQuietly } from "./tcp_io.ts";
import {
  type ConnectionOptions,
  isClosedError,
  remoteMultiaddr,
  toMultiaddrConnection,
  tune,
} from "./deno_tcp_connection.ts";

/** What the listener accepts from: a `Deno.TcpListener`, or a port-sharing one. */
interface Acceptor {
  accept(): Promise<Deno.TcpConn>;
  close(): void;
  readonly port: number;
}

/**
 * Ports of wildcard IPv4 listeners that share them with outgoing connections (SO_REUSEPORT),
 * one set per transport: its dials leave from one of them.
 */
export class ReusePorts {
  #ports = new Set<number>();
  #opening = 0;
  #waiters: (() => void)[] = [];

  /** A wildcard listener starts opening. @returns What to call once it is open or failed. */
  opening(): (port?: number) => void {
    this.#opening++;
    let done = false;
    return (port) => {
      if (done) return;
      done = true;
      this.#opening--;
      if (port !== undefined) this.#ports.add(port);
      for (const wake of this.#waiters.splice(0)) wake();
    };
  }

  /** Its listener closed. */
  delete(port: number): void {
    this.#ports.delete(port);
  }

  /** The port dials leave from, if any. */
  first(): number | undefined {
    return this.#ports.values().next().value;
  }

  /**
   * The port, waiting up to `ms` for a listener still starting (the node dials its bootstrap
   * peers while its listeners open: that first connection must leave from the port too).
   */
  async wait(ms: number): Promise<number | undefined> {
    if (this.#ports.size > 0 || this.#opening === 0) return this.first();
    let timer: ReturnType<typeof setTimeout> | undefined;
    await new Promise<void>((resolve) => {
      this.#waiters.push(resolve);
      timer = setTimeout(resolve, ms);
    });
    clearTimeout(timer);
    return this.first();
  }
}

/** Node's error codes for Deno's listen errors, so messages read as with `@libp2p/tcp`. */
const LISTEN_ERROR_CODES: [new (...args: never[]) => Error, string, string][] = [
  [Deno.errors.AddrInUse, "EADDRINUSE", "address already in use"],
  [Deno.errors.AddrNotAvailable, "EADDRNOTAVAIL", "address not available"],
  [Deno.errors.PermissionDenied, "EACCES", "permission denied"],
];

/** `listen EADDRINUSE: address already in use 127.0.0.1:4001`, with `code`, as node:net says. */
function listenError(err: unknown, hostname: string, port: number): Error {
  const errno = (err as { code?: unknown } | undefined)?.code;
  for (const [type, code, text] of LISTEN_ERROR_CODES) {
    if (err instanceof type || errno === code) {
      const where = hostname.includes(":") ? `[${hostname}]:${port}` : `${hostname}:${port}`;
      return Object.assign(new Error(`listen ${code}: ${text} ${where}`, { cause: err }), {
        code,
      });
    }
  }
  return err instanceof Error ? err : new Error(String(err));
}

export class DenoTcpListener extends TypedEventEmitter<ListenerEvents> implements Listener {
  #upgrader: CreateListenerOptions["upgrader"];
  #options: ConnectionOptions;
  #log: Logger;
  #connLog: Logger;
  #listener: Acceptor | undefined;
  #reusePorts: ReusePorts | undefined;
  #listeningAddr: Multiaddr | undefined;
  #sockets = new Set<Deno.TcpConn>();
  #shutdown = new AbortController();
  #closed = false;

  /**
   * @param reusePorts When given, a wildcard IPv4 address is listened on with SO_REUSEPORT
   *   and its port added here, for the transport's dials to leave from.
   */
  constructor(
    options: CreateListenerOptions,
    init: ConnectionOptions,
    logger: ComponentLogger,
    reusePorts?: ReusePorts,
  ) {
    super();
    this.#reusePorts = reusePorts;
    this.#upgrader = options.upgrader;
    this.#options = init;
    this.#log = logger.forComponent("libp2p:deno-tcp:listener");
    this.#connLog = logger.forComponent("libp2p:deno-tcp:connection");
  }

  async listen(ma: Multiaddr): Promise<void> {
    if (this.#listener !== undefined) throw new Error("server is already listening");
    const config = getNetConfig(ma);
    const hostname = config.host;
    const port = config.port ?? 0;
    try {
      if (this.#reusePorts !== undefined && hostname === "0.0.0.0") {
        const opened = this.#reusePorts.opening();
        try {
          this.#listener = await listenReusable(hostname, port);
        } finally {
          opened(this.#listener?.port);
        }
      } else {
        const listener = Deno.listen({ hostname, port, transport: "tcp" });
        this.#listener = Object.assign(listener, {
          get port() {
            return (listener.addr as Deno.NetAddr).port;
          },
        }) as unknown as Acceptor;
      }
    } catch (err) {
      throw listenError(err, hostname, port);
    }
    this.#listeningAddr = ma;
    this.#log("listening on %s:%d", hostname, this.#port());
    void this.#acceptLoop(this.#listener);
    await Promise.resolve();
    this.safeDispatchEvent("listening");
  }

  #port(): number {
    return this.#listener?.port ?? 0;
  }

  async #acceptLoop(listener: Acceptor): Promise<void> {
    while (true) {
      let conn: Deno.TcpConn;
      try {
        conn = await listener.accept();
      } catch (err) {
        if (this.#closed || isClosedError(err)) return;
        // Out of file descriptors and the like: keep listening, as a node:net server does.
        this.#log.error("accept failed - %e", err);
        await new Promise((resolve) => setTimeout(resolve, DENO_TCP_ACCEPT_RETRY_MS));
        continue;
      }
      this.#onSocket(conn);
    }
  }

  #onSocket(conn: Deno.TcpConn): void {
    if (this.#closed) {
      closeQuietly(conn);
      return;
    }
    tune(conn);
    let maConn: MultiaddrConnection;
    try {
      maConn = toMultiaddrConnection({
        conn,
        direction: "inbound",
        remoteAddr: remoteMultiaddr(conn),
        log: this.#connLog,
        options: this.#options,
      });
    } catch (err) {
      this.#log.error("inbound connection failed - %e", err);
      closeQuietly(conn);
      return;
    }
    this.#sockets.add(conn);
    maConn.addEventListener("close", () => this.#sockets.delete(conn), { once: true });
    this.#upgrader.upgradeInbound(maConn, { signal: this.#shutdown.signal }).catch((err) => {
      this.#log.error("inbound connection upgrade failed - %e", err);
      this.#sockets.delete(conn);
      maConn.abort(err instanceof Error ? err : new Error(String(err)));
    });
  }

  getAddrs(): Multiaddr[] {
    if (this.#listener === undefined || this.#listeningAddr === undefined) return [];
    return getThinWaistAddresses(this.#listeningAddr, this.#port());
  }

  updateAnnounceAddrs(): void {}

  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    if (this.#listener !== undefined) {
      this.#reusePorts?.delete(this.#listener.port);
      try {
        this.#listener.close();
      } catch {
        // closed already
      }
    }
    this.#shutdown.abort();
    for (const conn of this.#sockets) closeQuietly(conn);
    this.#sockets.clear();
    this.safeDispatchEvent("close");
    return Promise.resolve();
  }
}
