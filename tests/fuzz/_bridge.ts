// Fuzz target: the TCP ↔ stream bridge (`src/services/bridge.ts`) under random chunking,
// random half-close and close/reset orders, slow readers and small buffers, with two real
// libp2p nodes over loopback:
//
//   client ──TCP── [entry k] bridge(A) ══ yamux stream A→B ══ bridge(B) ──TCP── [backend k]
//
// Each lane k has its own entry listener, protocol and backend, so concurrent cases never
// mix. Properties: every case ends within its bound (no hang); without an abort both ends get
// exactly the bytes the other sent, and neither bridge reports a reset; with an abort every
// byte that arrives is a prefix of what was sent (nothing corrupted or reordered); and no
// unhandled rejection ever (counted by the harness).
import { installDenoShims } from "../../src/node/deno_shims.ts";
installDenoShims();
import type { Stream } from "@libp2p/interface";
import { multiaddr } from "@multiformats/multiaddr";
import { createLibp2pNode, type P2PLibp2p } from "../../src/node/create_node.ts";
import { bridge, type BridgeResult } from "../../src/services/bridge.ts";
import { generateTokenConfig } from "../../src/token/token.ts";
import { FuzzFailure, type FuzzTarget } from "./_harness.ts";
import type { Rng } from "./_rng.ts";
import { closeQuietly, writeAll } from "../_helpers/tcp.ts";

const LANES = 8;
/** A case still running after this long is reported as a hang. */
const CASE_HANG_MS = 30_000;
const PROTOCOL = "/p2p-fuzz/bridge/1.0.0";
const SLOT_PROTOCOL = (k: number): string => `${PROTOCOL}/${k}`;

/** What the server end does with the tunnelled connection. */
type ServerMode = "echo" | "sink-then-source" | "source-while-reading";
/** Who breaks the case, if anyone. */
type Abort =
  | "none"
  | "client-close" // the client closes its socket mid-way
  | "server-close" // the backend closes its socket mid-way
  | "reset-a" // the entry side's stream is reset
  | "reset-b"; // the backend side's stream is reset

interface Plan {
  mode: ServerMode;
  abort: Abort;
  /** Bytes the client sends, and how it cuts them. */
  up: Uint8Array;
  upChunks: number[];
  /** Bytes the server sends (modes other than echo). */
  down: Uint8Array;
  downChunks: number[];
  /** Byte offset (client side: sent; server side: received) or delay at which the abort fires. */
  abortAfterBytes: number;
  abortDelayMs: number;
  /** Yield to the event loop between writes (0: never). */
  writePauseEvery: number;
  /** The client reads slowly. */
  slowReader: boolean;
  highWaterA: number;
  highWaterB: number;
}

function chunks(rng: Rng, total: number): number[] {
  const out: number[] = [];
  for (let left = total; left > 0;) {
    const n = Math.max(1, Math.min(left, rng.chance(0.3) ? rng.range(1, 16) : rng.size(96 * 1024)));
    out.push(n);
    left -= n;
  }
  return out;
}

/** Bytes beyond what loopback socket buffers absorb: a slow reader really pushes back. */
const LARGE = 6 * 1024 * 1024;

function makePlan(rng: Rng, maxPayload: number, largeShare: number): Plan {
  const large = rng.chance(largeShare);
  const mode = rng.pick<ServerMode>(["echo", "sink-then-source", "source-while-reading"]);
  const abort = rng.chance(0.55)
    ? "none"
    : rng.pick<Abort>(["client-close", "server-close", "reset-a", "reset-b"]);
  const size = (): number => large ? rng.range(LARGE / 2, LARGE) : rng.size(maxPayload);
  const up = rng.bytes(rng.chance(0.1) ? 0 : size());
  const down = mode === "echo" ? new Uint8Array(0) : rng.bytes(size());
  return {
    mode,
    abort,
    up,
    upChunks: chunks(rng, up.byteLength),
    down,
    downChunks: chunks(rng, down.byteLength),
    abortAfterBytes: rng.size(Math.max(1, up.byteLength + down.byteLength)),
    abortDelayMs: rng.pick([0, 0, 1, 2, 5, 20]),
    writePauseEvery: rng.pick([0, 1, 3, 10]),
    slowReader: large || rng.chance(0.15),
    highWaterA: rng.pick([1024, 16 * 1024, 256 * 1024, 1024 * 1024]),
    highWaterB: rng.pick([1024, 16 * 1024, 256 * 1024, 1024 * 1024]),
  };
}

const tick = (ms = 0): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function tcpAddr(listener: Deno.Listener): Deno.ConnectOptions {
  const { hostname, port } = listener.addr as Deno.NetAddr;
  return { hostname, port };
}

/** What one end received: a byte count and whether it stayed a prefix of `expected`. */
class Receiver {
  received = 0;
  corrupt: string | undefined;
  eof = false;
  error: string | undefined;
  constructor(readonly expected: Uint8Array) {}
  take(chunk: Uint8Array): void {
    if (this.corrupt !== undefined) return;
    for (let i = 0; i < chunk.byteLength; i++) {
      const at = this.received + i;
      if (at >= this.expected.byteLength || chunk[i] !== this.expected[at]) {
        this.corrupt = `byte ${at} differs (got ${chunk[i]}, expected ${
          this.expected[at] ?? "nothing: past the end"
        })`;
        break;
      }
    }
    this.received += chunk.byteLength;
  }
  /** Reads `conn` to EOF or error. */
  async drain(conn: Deno.Conn, slow: boolean, onBytes?: (n: number) => void): Promise<void> {
    const buffer = new Uint8Array(32 * 1024);
    try {
      while (true) {
        const n = await conn.read(buffer);
        if (n === null) {
          this.eof = true;
          return;
        }
        this.take(buffer.subarray(0, n));
        onBytes?.(this.received);
        if (slow) await tick(1);
      }
    } catch (err) {
      this.error = err instanceof Error ? err.name : String(err);
    }
  }
}

/** Writes `data` in `sizes` chunks; stops (returns false) when `stop()` says so or on error. */
async function writeChunks(
  conn: Deno.Conn,
  data: Uint8Array,
  sizes: number[],
  pauseEvery: number,
  stop: (sent: number) => boolean,
): Promise<boolean> {
  let sent = 0;
  for (const [i, size] of sizes.entries()) {
    if (stop(sent)) return false;
    try {
      await writeAll(conn, data.subarray(sent, sent + size));
    } catch {
      return false;
    }
    sent += size;
    if (pauseEvery > 0 && i % pauseEvery === 0) await tick();
  }
  return !stop(sent);
}

interface Lane {
  entry: Deno.Listener;
  backend: Deno.Listener;
  /** The case the lane runs now. */
  current: LaneCase | undefined;
}

interface LaneCase {
  plan: Plan;
  /** Resolves with the backend side's conn, as accepted. */
  serverConn: PromiseWithResolvers<Deno.Conn>;
  streamA: PromiseWithResolvers<Stream>;
  streamB: PromiseWithResolvers<Stream>;
  bridgeA: PromiseWithResolvers<BridgeResult | string>;
  bridgeB: PromiseWithResolvers<BridgeResult | string>;
}

interface Context {
  a: P2PLibp2p;
  b: P2PLibp2p;
  lanes: Lane[];
  loops: Promise<void>[];
}

async function acceptLoop(listener: Deno.Listener, onConn: (conn: Deno.Conn) => void) {
  while (true) {
    let conn: Deno.Conn;
    try {
      conn = await listener.accept();
    } catch {
      return;
    }
    onConn(conn);
  }
}

async function setup(): Promise<Context> {
  const token = generateTokenConfig();
  const options = {
    token,
    listen: ["/ip4/127.0.0.1/tcp/0"],
    bootstrapPeers: [],
    mdns: false,
    dht: false,
  };
  const a = await createLibp2pNode(options);
  const b = await createLibp2pNode(options);
  const lanes: Lane[] = [];
  const loops: Promise<void>[] = [];
  for (let k = 0; k < LANES; k++) {
    const lane: Lane = {
      entry: Deno.listen({ hostname: "127.0.0.1", port: 0 }),
      backend: Deno.listen({ hostname: "127.0.0.1", port: 0 }),
      current: undefined,
    };
    lanes.push(lane);
    // Backend side (node B): each stream goes to this lane's backend listener.
    await b.handle(SLOT_PROTOCOL(k), async (stream) => {
      const c = lane.current;
      if (c === undefined) return stream.abort(new Error("no case"));
      c.streamB.resolve(stream);
      let conn: Deno.Conn;
      try {
        conn = await Deno.connect(tcpAddr(lane.backend));
      } catch (err) {
        stream.abort(err as Error);
        c.bridgeB.resolve(`connect failed: ${err}`);
        return;
      }
      bridge(conn, stream, { highWaterBytes: c.plan.highWaterB }).then(
        (r) => c.bridgeB.resolve(r),
        (err) => c.bridgeB.resolve(`bridge B rejected: ${err}`),
      );
    }, { maxInboundStreams: 64 });
    // The backend's accepted connections are handed to the case.
    loops.push(acceptLoop(lane.backend, (conn) => {
      const c = lane.current;
      if (c === undefined) return closeQuietly(conn);
      c.serverConn.resolve(conn);
    }));
    // Entry side (node A): each client connection is bridged into a new stream to B.
    loops.push(acceptLoop(lane.entry, (conn) => {
      const c = lane.current;
      if (c === undefined) return closeQuietly(conn);
      a.dialProtocol(b.peerId, SLOT_PROTOCOL(k), { maxOutboundStreams: 64 }).then((stream) => {
        c.streamA.resolve(stream);
        return bridge(conn, stream, { highWaterBytes: c.plan.highWaterA });
      }).then(
        (r) => c.bridgeA.resolve(r),
        (err) => {
          closeQuietly(conn);
          c.bridgeA.resolve(`dial or bridge A failed: ${err}`);
        },
      );
    }));
  }
  await a.start();
  await b.start();
  await a.dial(multiaddr(`${b.getMultiaddrs()[0]!.toString()}`));
  return { a, b, lanes, loops };
}

async function teardown(context: Context): Promise<void> {
  for (const lane of context.lanes) {
    closeQuietly(lane.entry);
    closeQuietly(lane.backend);
  }
  await Promise.all(context.loops);
  await Promise.allSettled([context.a.stop(), context.b.stop()]);
}

async function runCase(
  rng: Rng,
  context: Context,
  maxPayload: number,
  largeShare: number,
): Promise<string> {
  // The harness runs LANES cases at once; each takes a free lane.
  const lane = context.lanes.find((l) => l.current === undefined);
  if (lane === undefined) throw new FuzzFailure("no free lane (concurrency above LANES)");
  const plan = makePlan(rng, maxPayload, largeShare);
  const c: LaneCase = {
    plan,
    serverConn: Promise.withResolvers(),
    streamA: Promise.withResolvers(),
    streamB: Promise.withResolvers(),
    bridgeA: Promise.withResolvers(),
    bridgeB: Promise.withResolvers(),
  };
  lane.current = c;
  const client = await Deno.connect(tcpAddr(lane.entry));
  const clientGot = new Receiver(plan.mode === "echo" ? plan.up : plan.down);
  const serverGot = new Receiver(plan.up);
  let aborted = false;
  const fire = async (): Promise<void> => {
    if (aborted) return;
    aborted = true;
    if (plan.abortDelayMs > 0) await tick(plan.abortDelayMs);
    if (plan.abort === "client-close") closeQuietly(client);
    if (plan.abort === "server-close") closeQuietly(await c.serverConn.promise);
    if (plan.abort === "reset-a") (await c.streamA.promise).abort(new Error("fuzz reset A"));
    if (plan.abort === "reset-b") (await c.streamB.promise).abort(new Error("fuzz reset B"));
  };
  const maybeFire = (bytes: number): boolean => {
    if (plan.abort !== "none" && bytes >= plan.abortAfterBytes) void fire();
    return aborted && plan.abort === "client-close";
  };
  try {
    // Client: writes (then half-closes) while reading to EOF.
    const clientWrite = (async () => {
      const complete = await writeChunks(
        client,
        plan.up,
        plan.upChunks,
        plan.writePauseEvery,
        (sent) => maybeFire(sent),
      );
      if (complete) {
        try {
          await client.closeWrite();
        } catch {
          // the connection is gone (an abort)
        }
      }
    })();
    const clientRead = clientGot.drain(client, plan.slowReader, (n) => maybeFire(n));
    // Server: per mode.
    const server = (async () => {
      const conn = await c.serverConn.promise;
      const onServerBytes = (n: number): void => {
        if (plan.abort === "server-close" && n >= plan.abortAfterBytes) void fire();
      };
      if (plan.mode === "echo") {
        // Read a chunk, write it back, repeat (the echo's own backpressure); FIN → FIN.
        const buffer = new Uint8Array(32 * 1024);
        try {
          while (true) {
            const n = await conn.read(buffer);
            if (n === null) {
              serverGot.eof = true;
              await conn.closeWrite();
              break;
            }
            const chunk = buffer.subarray(0, n);
            serverGot.take(chunk);
            onServerBytes(serverGot.received);
            await writeAll(conn, chunk);
          }
        } catch (err) {
          serverGot.error = err instanceof Error ? err.name : String(err);
        }
      } else if (plan.mode === "sink-then-source") {
        await serverGot.drain(conn, false, onServerBytes);
        if (serverGot.eof) {
          await writeChunks(conn, plan.down, plan.downChunks, plan.writePauseEvery, () => false);
          await conn.closeWrite().catch(() => {});
        }
      } else {
        const source = (async () => {
          if (
            await writeChunks(conn, plan.down, plan.downChunks, plan.writePauseEvery, () => false)
          ) {
            await conn.closeWrite().catch(() => {});
          }
        })();
        await Promise.all([serverGot.drain(conn, false, onServerBytes), source]);
      }
      closeQuietly(conn);
    })();
    if (plan.abort !== "none" && plan.abortAfterBytes === 0) void fire();
    // A hang is reported with where each part stood (before the harness's own bound).
    const done: Record<string, boolean> = {};
    const track = <T>(name: string, p: Promise<T>): Promise<T> =>
      p.finally(() => (done[name] = true));
    let hangTimer: ReturnType<typeof setTimeout> | undefined;
    const hang = new Promise<never>((_, reject) => {
      hangTimer = setTimeout(async () => {
        const streams = await Promise.race([
          Promise.all([c.streamA.promise, c.streamB.promise]),
          tick(10).then(() => undefined),
        ]);
        const status = (s: Stream | undefined): string =>
          s === undefined
            ? "none"
            : `${s.status}/read ${s.readStatus}/write ${s.writeStatus}/remote ${s.remoteWriteStatus} buf ${s.readBufferLength}`;
        reject(
          new FuzzFailure(
            `hang: finished ${JSON.stringify(done)}; stream A ${status(streams?.[0])}; stream B ${
              status(streams?.[1])
            }; aborted ${aborted}; ${describe()}`,
          ),
        );
      }, CASE_HANG_MS);
    });
    const describe = (): string =>
      `plan ${
        JSON.stringify({
          ...plan,
          up: plan.up.byteLength,
          down: plan.down.byteLength,
          upChunks: plan.upChunks.length,
          downChunks: plan.downChunks.length,
        })
      }; client got ${clientGot.received} (eof ${clientGot.eof}, error ${clientGot.error}), server got ${serverGot.received} (eof ${serverGot.eof}, error ${serverGot.error})`;
    let resultA: BridgeResult | string;
    let resultB: BridgeResult | string;
    try {
      [, , , resultA, resultB] = await Promise.race([
        Promise.all([
          track("clientWrite", clientWrite),
          track("clientRead", clientRead),
          track("server", server),
          track("bridgeA", c.bridgeA.promise),
          track("bridgeB", c.bridgeB.promise),
        ]),
        hang,
      ]);
    } finally {
      clearTimeout(hangTimer);
    }
    for (const [side, result] of [["A", resultA], ["B", resultB]] as const) {
      if (typeof result === "string") throw new FuzzFailure(`bridge ${side}: ${result}`);
    }
    for (const [who, got] of [["client", clientGot], ["server", serverGot]] as const) {
      if (got.corrupt !== undefined) {
        throw new FuzzFailure(`${who} received corrupted bytes: ${got.corrupt}; ${describe()}`);
      }
    }
    if (!aborted) {
      const expectClient = plan.mode === "echo" ? plan.up.byteLength : plan.down.byteLength;
      if (
        clientGot.received !== expectClient || !clientGot.eof ||
        serverGot.received !== plan.up.byteLength || !serverGot.eof
      ) {
        throw new FuzzFailure(`bytes lost without an abort: ${describe()}`);
      }
      if ((resultA as BridgeResult).reset || (resultB as BridgeResult).reset) {
        throw new FuzzFailure(`a bridge reported a reset without an abort: ${describe()}`);
      }
      return `${plan.mode}:exact`;
    }
    return `${plan.mode}:${plan.abort}:ended`;
  } finally {
    closeQuietly(client);
    c.serverConn.promise.then(closeQuietly);
    lane.current = undefined;
  }
}

/**
 * The bridge target: in-process, two libp2p nodes over loopback. Payloads (each way) are
 * log-uniform up to `maxPayloadBytes`, except a `largeShare` of cases that move 3–6 MiB to a
 * slow reader (beyond the loopback socket buffers, so the bridge really pauses the stream). The
 * suite uses 64 KiB and 0.3 %, `deno task fuzz` 384 KiB and 2 %.
 */
export function bridgeTargetWith(
  maxPayloadBytes: number,
  largeShare: number,
): FuzzTarget<Context> {
  return {
    name: "bridge",
    ciCases: 10_000,
    concurrency: LANES,
    caseTimeoutMs: 40_000,
    setup,
    teardown,
    run: (rng, context) => runCase(rng, context, maxPayloadBytes, largeShare),
  };
}

/** The long-run bridge target (384 KiB payloads). */
export const bridgeTarget: FuzzTarget<Context> = bridgeTargetWith(384 * 1024, 0.02);
