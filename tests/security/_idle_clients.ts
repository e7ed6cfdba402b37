// Idle TCP clients, the common weapon of the connection-exhaustion attacks: each connects,
// optionally writes a few bytes (a header that never ends), then sends nothing more and waits
// for the server to close it.
import { closeQuietly, connectTo } from "../_helpers/tcp.ts";
import { withTimeout } from "../_helpers/wait.ts";

/** Options of {@linkcode holdIdleClients}. */
export interface IdleClientsInit {
  /** Where they connect, `127.0.0.1:PORT`. */
  address: string;
  count: number;
  /** Bytes each client writes after connecting (the `i`-th client), or none. */
  prefix?: (i: number) => Uint8Array | undefined;
  /** Reconnect a client the server closed, after this many ms (an attacker keeps the pressure). */
  reopenAfterMs?: number;
  /** Connections opened at once while ramping up. */
  batch?: number;
}

/** Idle clients being held: see {@linkcode holdIdleClients}. */
export interface IdleClients {
  /** Connections opened so far (reopenings included). */
  readonly opened: number;
  /** Connections the server closed (EOF or reset) so far. */
  readonly closedByServer: number;
  /** Clients connected now. */
  readonly open: number;
  /** Connection attempts that failed (refused, reset during connect). */
  readonly connectFailures: number;
  /** Resolves once every client has connected once (bounded by `timeoutMs`). */
  ramped(timeoutMs: number): Promise<void>;
  /** Closes every client and stops reopening; waits for the readers. */
  stop(): Promise<void>;
}

/** Opens `count` idle clients to `address` and holds them until the server closes them. */
export function holdIdleClients(init: IdleClientsInit): IdleClients {
  const conns = new Set<Deno.Conn>();
  const readers = new Set<Promise<void>>();
  const stats = { opened: 0, closedByServer: 0, connectFailures: 0 };
  let stopped = false;
  let connectedOnce = 0;
  let onRamped: (() => void) | undefined;
  const timers = new Set<ReturnType<typeof setTimeout>>();

  const hold = async (i: number, connected?: () => void): Promise<void> => {
    let conn: Deno.Conn;
    try {
      conn = await connectTo(init.address);
    } catch {
      stats.connectFailures++;
      return;
    } finally {
      connected?.();
      if (connected !== undefined && ++connectedOnce === init.count) onRamped?.();
    }
    if (stopped) return closeQuietly(conn);
    stats.opened++;
    conns.add(conn);
    try {
      const prefix = init.prefix?.(i);
      if (prefix !== undefined) await conn.write(prefix);
      const buffer = new Uint8Array(1024);
      while ((await conn.read(buffer)) !== null) {
        // whatever the server says, the client stays silent
      }
      if (!stopped) stats.closedByServer++;
    } catch {
      if (!stopped) stats.closedByServer++;
    } finally {
      conns.delete(conn);
      closeQuietly(conn);
    }
    if (!stopped && init.reopenAfterMs !== undefined) {
      const timer = setTimeout(() => {
        timers.delete(timer);
        if (!stopped) track(hold(i));
      }, init.reopenAfterMs);
      timers.add(timer);
    }
  };
  const track = (reader: Promise<void>): void => {
    readers.add(reader);
    void reader.finally(() => readers.delete(reader));
  };
  const ramp = (async () => {
    const batch = init.batch ?? 100;
    for (let i = 0; i < init.count && !stopped; i += batch) {
      // Wait for the connects of a batch, not for the connections to end.
      const connects: Promise<void>[] = [];
      for (let j = i; j < Math.min(i + batch, init.count); j++) {
        connects.push(new Promise<void>((resolve) => track(hold(j, resolve))));
      }
      await Promise.all(connects);
    }
  })();
  const rampedPromise = new Promise<void>((resolve) => {
    onRamped = resolve;
    if (connectedOnce >= init.count) resolve();
  });

  return {
    get opened() {
      return stats.opened;
    },
    get closedByServer() {
      return stats.closedByServer;
    },
    get open() {
      return conns.size;
    },
    get connectFailures() {
      return stats.connectFailures;
    },
    ramped: (timeoutMs) => withTimeout(rampedPromise, timeoutMs, `${init.count} idle clients`),
    async stop() {
      stopped = true;
      for (const timer of timers) clearTimeout(timer);
      await ramp;
      for (const conn of conns) closeQuietly(conn);
      await withTimeout(Promise.allSettled([...readers]), 10_000, "idle client readers").catch(
        () => {},
      );
    },
  };
}
