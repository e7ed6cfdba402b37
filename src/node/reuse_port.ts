/**
 * TCP sockets that share their port (SO_REUSEPORT), so outgoing connections leave from the
 * port the node listens on, as go-libp2p's TCP transport does (`LIBP2P_TCP_REUSEPORT`): a NAT
 * then maps our dials and our listener to the same external port, which peers observe and
 * which hole punching (DCUtR) relies on.
 *
 * Deno has no public API for it: `Deno.connect` cannot choose its local address, and a
 * `Deno.listen({ reusePort })` needs `--unstable-net` and still refuses a connecting socket on
 * its port (the connecting socket would need SO_REUSEPORT too). Deno 2.9's node:net layer has
 * both halves on its native TCP handle (`process.binding("tcp_wrap").TCP`): `bindWithFlags`
 * with `UV_TCP_REUSEPORT`, then `listen`/`accept` or `connect`, and `takeStream()`, which moves
 * the socket into a Deno resource. That resource becomes a `Deno.TcpConn` of the same class
 * `Deno.connect` returns, so the rest of the transport is unchanged. This relies on Deno
 * internals of 2.9.6 (checked at runtime: {@linkcode reusePortSupported}); without them the
 * transport falls back to ordinary sockets.
 *
 * @module
 */
import process from "node:process";
import { getSystemErrorName } from "node:util";
import { AbortError } from "@libp2p/interface";

interface TcpHandle {
  bindWithFlags(host: string, port: number, flags: number): number;
  listen(backlog: number): number;
  accept(handle: TcpHandle): number;
  connect(request: { oncomplete: (status: number) => void }, host: string, port: number): number;
  takeStream(): number;
  getsockname(out: { port?: number }): number;
  getpeername(out: { address?: string; port?: number }): number;
  close(): void;
  onconnection?: (status: number) => void;
}

type TcpHandleClass = new (type: number) => TcpHandle;
type TcpConnClass = new (rid: number, remote: Deno.NetAddr, local: Deno.NetAddr) => Deno.TcpConn;

const SOCKET = 0;
const SERVER = 1;
/** libuv's UV_TCP_REUSEPORT bind flag. */
const REUSEPORT = 4;

// Facts about the Deno runtime, learned once per process (no network's state lives here).
let handleClass: TcpHandleClass | null | undefined;

function tcpHandle(): TcpHandleClass | null {
  if (handleClass !== undefined) return handleClass;
  try {
    const binding = (process as unknown as { binding(name: string): { TCP?: TcpHandleClass } })
      .binding("tcp_wrap");
    const TCP = binding.TCP;
    const proto = TCP?.prototype as Partial<TcpHandle> | undefined;
    handleClass = proto?.bindWithFlags && proto.takeStream && proto.connect ? TCP! : null;
  } catch {
    handleClass = null;
  }
  return handleClass;
}

let connClass: TcpConnClass | undefined;

/** The class of `Deno.TcpConn` (not exported by Deno 2), learned once from a loopback pair. */
async function tcpConnClass(): Promise<TcpConnClass> {
  if (connClass !== undefined) return connClass;
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const accepted = listener.accept();
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
    (await accepted).close();
    conn.close();
    connClass = Object.getPrototypeOf(conn).constructor as TcpConnClass;
    return connClass;
  } finally {
    listener.close();
  }
}

/** Whether this Deno offers what {@linkcode listenReusable} and {@linkcode connectFrom} need. */
export function reusePortSupported(): boolean {
  return Deno.build.os === "linux" && tcpHandle() !== null;
}

function failure(status: number, what: string): Error {
  let code = String(status);
  try {
    code = getSystemErrorName(status);
  } catch {
    // not an errno
  }
  return Object.assign(new Error(`${what}: ${code}`), { code });
}

/** A listening socket that shares its port with {@linkcode connectFrom}'s sockets. */
export interface ReusableListener {
  /** The port it listens on. */
  readonly port: number;
  /** The next connection. */
  accept(): Promise<Deno.TcpConn>;
  /** Stops listening; pending `accept()`s reject. */
  close(): void;
}

/**
 * Listens on `hostname:port` with SO_REUSEPORT.
 *
 * @throws {Error} The address cannot be bound (`code` is the errno name, e.g. `EADDRINUSE`).
 */
export async function listenReusable(hostname: string, port: number): Promise<ReusableListener> {
  const TCP = tcpHandle();
  if (TCP === null) throw new Error("SO_REUSEPORT sockets are not available in this Deno");
  const Conn = await tcpConnClass();
  const handle = new TCP(SERVER);
  let status = handle.bindWithFlags(hostname, port, REUSEPORT);
  if (status === 0) status = handle.listen(511);
  if (status !== 0) {
    handle.close();
    throw failure(status, `listen ${hostname}:${port}`);
  }
  const bound: { port?: number } = {};
  handle.getsockname(bound);
  const ready: Deno.TcpConn[] = [];
  const waiting: { resolve: (c: Deno.TcpConn) => void; reject: (e: Error) => void }[] = [];
  let closed = false;
  handle.onconnection = (status) => {
    if (status !== 0) return;
    const client = new TCP(SOCKET);
    if (handle.accept(client) !== 0) return;
    const peer: { address?: string; port?: number } = {};
    client.getpeername(peer);
    const conn = new Conn(
      client.takeStream(),
      { transport: "tcp", hostname: peer.address ?? "0.0.0.0", port: peer.port ?? 0 },
      { transport: "tcp", hostname, port: bound.port ?? port },
    );
    const waiter = waiting.shift();
    if (waiter !== undefined) waiter.resolve(conn);
    else ready.push(conn);
  };
  return {
    port: bound.port ?? port,
    accept() {
      const conn = ready.shift();
      if (conn !== undefined) return Promise.resolve(conn);
      if (closed) return Promise.reject(new Deno.errors.BadResource("listener closed"));
      return new Promise((resolve, reject) => waiting.push({ resolve, reject }));
    },
    close() {
      if (closed) return;
      closed = true;
      handle.close();
      for (const conn of ready.splice(0)) conn.close();
      for (const waiter of waiting.splice(0)) {
        waiter.reject(new Deno.errors.BadResource("listener closed"));
      }
    },
  };
}

/**
 * Connects to `hostname:port` from `localPort` (shared with a {@linkcode ReusableListener}).
 *
 * @throws {Error} The connection failed (`code`: `ECONNREFUSED`, `EADDRINUSE` when that
 * 4-tuple is still taken, …), or `signal` aborted it.
 */
export async function connectFrom(
  localHost: string,
  localPort: number,
  hostname: string,
  port: number,
  signal: AbortSignal,
): Promise<Deno.TcpConn> {
  const TCP = tcpHandle();
  if (TCP === null) throw new Error("SO_REUSEPORT sockets are not available in this Deno");
  const Conn = await tcpConnClass();
  signal.throwIfAborted();
  const handle = new TCP(SOCKET);
  const bindStatus = handle.bindWithFlags(localHost, localPort, REUSEPORT);
  if (bindStatus !== 0) {
    handle.close();
    throw failure(bindStatus, `bind ${localHost}:${localPort}`);
  }
  return await new Promise<Deno.TcpConn>((resolve, reject) => {
    let done = false;
    const onAbort = (): void => {
      if (done) return;
      done = true;
      handle.close();
      reject(new AbortError());
    };
    signal.addEventListener("abort", onAbort, { once: true });
    const request = {
      oncomplete: (status: number) => {
        signal.removeEventListener("abort", onAbort);
        if (done) return;
        done = true;
        if (status !== 0) {
          handle.close();
          reject(failure(status, `connect ${hostname}:${port} from port ${localPort}`));
          return;
        }
        resolve(
          new Conn(
            handle.takeStream(),
            { transport: "tcp", hostname, port },
            { transport: "tcp", hostname: localHost, port: localPort },
          ),
        );
      },
    };
    const status = handle.connect(request, hostname, port);
    if (status !== 0) {
      signal.removeEventListener("abort", onAbort);
      done = true;
      handle.close();
      reject(failure(status, `connect ${hostname}:${port} from port ${localPort}`));
    }
  });
}
