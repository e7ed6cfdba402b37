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
import {
  closeQuietly,
  type DenoTcpOptions,
  isClosedError,
  remoteMultiaddr,
  toMultiaddrConnection,
  tune,
} from "./deno_tcp_connection.ts";

/** Node's error codes for Deno's listen errors, so messages read as with `@libp2p/tcp`. */
const LISTEN_ERROR_CODES: [new (...args: never[]) => Error, string, string][] = [
  [Deno.errors.AddrInUse, "EADDRINUSE", "address already in use"],
  [Deno.errors.AddrNotAvailable, "EADDRNOTAVAIL", "address not available"],
  [Deno.errors.PermissionDenied, "EACCES", "permission denied"],
];

/** `listen EADDRINUSE: address already in use 127.0.0.1:4001`, with `code`, as node:net says. */
function listenError(err: unknown, hostname: string, port: number): Error {
  for (const [type, code, text] of LISTEN_ERROR_CODES) {
    if (err instanceof type) {
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
  #options: Required<DenoTcpOptions>;
  #log: Logger;
  #connLog: Logger;
  #listener: Deno.TcpListener | undefined;
  #listeningAddr: Multiaddr | undefined;
  #sockets = new Set<Deno.TcpConn>();
  #shutdown = new AbortController();
  #closed = false;

  constructor(
    options: CreateListenerOptions,
    init: Required<DenoTcpOptions>,
    logger: ComponentLogger,
  ) {
    super();
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
      this.#listener = Deno.listen({ hostname, port, transport: "tcp" });
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
    return (this.#listener?.addr as Deno.NetAddr | undefined)?.port ?? 0;
  }

  async #acceptLoop(listener: Deno.TcpListener): Promise<void> {
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
