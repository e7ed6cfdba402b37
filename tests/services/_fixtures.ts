// Shared fixtures of the services tests: loopback-only in-process networks and local TCP
// backends. The helpers module comes first: it loads the Deno shims before libp2p.
import { NODE_TEST, withTimeout } from "../_helpers/mod.ts";
import { createHash } from "node:crypto";
import type { Network } from "../../src/network/network.ts";
import { encodeToken, generateTokenConfig, type NetworkToken } from "../../src/token/token.ts";
import { closeQuietly, Pattern, readAll, readToEnd, writeAll } from "../_helpers/tcp.ts";

export { NODE_TEST };

export {
  ledgersConverged,
  LOOPBACK_LISTEN,
  loopbackAddr,
  startLoopbackNetwork,
  stopNetworks,
  untilEvent,
} from "../_helpers/mod.ts";
import {
  ledgersConverged,
  loopbackAddr,
  startLoopbackNetwork,
  stopNetworks,
} from "../_helpers/mod.ts";

/** A network sharing one token: `networks[0]` is the seed, the others bootstrap to it. */
export interface Cluster {
  token: NetworkToken;
  /** The token as text, for `p2p` processes (`P2P_TOKEN`). */
  tokenText: string;
  networks: Network[];
  /** The seed's loopback multiaddr. */
  seedAddr: string;
  /** Starts one more node bootstrapping to the seed (stopped by `stop()`). */
  add(): Promise<Network>;
  stop(): Promise<void>;
}

/** Starts `count` nodes (a seed and peers) and waits until their ledgers see each other. */
export async function startCluster(count: number): Promise<Cluster> {
  const token = generateTokenConfig();
  const networks: Network[] = [];
  const all: Network[] = [];
  try {
    const seed = await startLoopbackNetwork(token);
    networks.push(seed);
    all.push(seed);
    const seedAddr = loopbackAddr(seed);
    const peers = await Promise.all(
      Array.from({ length: count - 1 }, () => startLoopbackNetwork(token, [seedAddr])),
    );
    networks.push(...peers);
    all.push(...peers);
    await ledgersConverged(networks);
    return {
      token,
      tokenText: encodeToken(token),
      networks,
      seedAddr,
      async add() {
        const network = await startLoopbackNetwork(token, [seedAddr]);
        all.push(network);
        return network;
      },
      stop: () => stopNetworks(all),
    };
  } catch (err) {
    await stopNetworks(all);
    throw err;
  }
}

// ---------------------------------------------------------------------------------------
// TCP side

export {
  type Backend,
  closeQuietly,
  connectTo,
  readAll,
  readToEnd,
  startBackend,
  writeAll,
} from "../_helpers/tcp.ts";

/** Echoes everything; answers the client's FIN with its own. */
export async function echo(conn: Deno.TcpConn): Promise<void> {
  await readToEnd(conn, (chunk) => writeAll(conn, chunk));
  await conn.closeWrite();
}

/** Says `name\n` at once, then echoes. */
export function greeter(name: string): (conn: Deno.TcpConn) => Promise<void> {
  return async (conn) => {
    await writeAll(conn, new TextEncoder().encode(`${name}\n`));
    await echo(conn);
  };
}

/** Reads the first line (bounded) from a connection. */
export async function readLine(conn: Deno.Conn, timeoutMs = 5_000): Promise<string> {
  const decoder = new TextDecoder();
  let text = "";
  const buffer = new Uint8Array(1024);
  return await withTimeout(
    (async () => {
      while (!text.includes("\n")) {
        const n = await conn.read(buffer);
        if (n === null) throw new Error(`EOF before a line (got ${JSON.stringify(text)})`);
        text += decoder.decode(buffer.subarray(0, n), { stream: true });
      }
      return text.slice(0, text.indexOf("\n"));
    })(),
    timeoutMs,
    "a line from the connection",
  );
}

/** Connects, writes `payload`, half-closes, and returns everything read until EOF. */
export async function roundTrip(address: string, payload: Uint8Array): Promise<Uint8Array> {
  const [hostname, port] = address.split(":");
  const conn = await Deno.connect({ hostname: hostname!, port: Number(port) });
  try {
    const [, answer] = await Promise.all([
      writeAll(conn, payload).then(() => conn.closeWrite()),
      readAll(conn),
    ]);
    return answer;
  } finally {
    closeQuietly(conn);
  }
}

export { Pattern } from "../_helpers/tcp.ts";

/** What a pattern source has sent so far. */
export interface SourceProgress {
  /** Bytes whose write() has returned (accepted by the kernel). */
  written: number;
  /** sha256 of everything sent, once done. */
  sha256?: string;
  /** How the connection ended: `complete`, or the write error (the client went away). */
  end?: string;
}

/**
 * A handler that writes `total` pattern bytes as fast as the connection takes them, then
 * closes; `progress` (one per connection, pushed in accept order) tracks it.
 */
export function patternSource(
  total: number,
  progress: SourceProgress[],
): (conn: Deno.TcpConn) => Promise<void> {
  return async (conn) => {
    const state: SourceProgress = { written: 0 };
    progress.push(state);
    const pattern = new Pattern();
    const hash = createHash("sha256");
    try {
      while (state.written < total) {
        const chunk = pattern.next(Math.min(Pattern.CHUNK, total - state.written));
        hash.update(chunk);
        await writeAll(conn, chunk);
        state.written += chunk.byteLength;
      }
      state.sha256 = hash.digest("hex");
      await conn.closeWrite();
      state.end = "complete";
    } catch (err) {
      state.end = `error: ${err instanceof Error ? err.name : String(err)}`;
      throw err;
    }
  };
}
