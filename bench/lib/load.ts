/**
 * Client workloads of the bench. Every loop is bounded in count and in time; every
 * connection is closed in `finally`.
 */
import { closeQuietly, connectLocal, drain, readExact, withTimeout, writeAll } from "./net.ts";
import { ErrorTally, percentile } from "./stats.ts";

const MiB = 1024 * 1024;
const CHUNK = 256 * 1024;
const payload = new Uint8Array(CHUNK).map((_, i) => (i * 7) & 0xff);

/** Uploads `mib` MiB to the bench service at `port`; returns MiB/s (bounded by `timeoutMs`). */
export async function bulkUpload(port: number, mib: number, timeoutMs: number): Promise<number> {
  const bytes = mib * MiB;
  const t0 = performance.now();
  const conn = await connectLocal(port);
  try {
    await withTimeout(
      (async () => {
        await writeAll(conn, Uint8Array.of(0x55));
        for (let left = bytes; left > 0; left -= CHUNK) {
          await writeAll(conn, left >= CHUNK ? payload : payload.subarray(0, left));
        }
        await conn.closeWrite();
        const answer = new Uint8Array(8);
        await readExact(conn, answer);
        const got = Number(new DataView(answer.buffer).getBigUint64(0));
        if (got !== bytes) throw new Error(`upload: service counted ${got} of ${bytes} bytes`);
      })(),
      timeoutMs,
      `upload of ${mib} MiB`,
    );
  } finally {
    closeQuietly(conn);
  }
  return mib / ((performance.now() - t0) / 1000);
}

/** Downloads `mib` MiB from the bench service at `port`; returns MiB/s. */
export async function bulkDownload(port: number, mib: number, timeoutMs: number): Promise<number> {
  const bytes = mib * MiB;
  const t0 = performance.now();
  const conn = await connectLocal(port);
  try {
    await withTimeout(
      (async () => {
        const head = new Uint8Array(9);
        head[0] = 0x44;
        new DataView(head.buffer).setBigUint64(1, BigInt(bytes));
        await writeAll(conn, head);
        const got = await drain(conn, new Uint8Array(CHUNK));
        if (got !== bytes) throw new Error(`download: received ${got} of ${bytes} bytes`);
      })(),
      timeoutMs,
      `download of ${mib} MiB`,
    );
  } finally {
    closeQuietly(conn);
  }
  return mib / ((performance.now() - t0) / 1000);
}

/** Round-trip latency of `size`-byte request/response on one echo connection. */
export interface RttResult {
  count: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** `count` round trips of `size` bytes on one echo connection (bounded by `timeoutMs`). */
export async function echoRtt(
  port: number,
  count: number,
  size: number,
  timeoutMs: number,
): Promise<RttResult> {
  const conn = await connectLocal(port);
  const samples: number[] = [];
  const deadline = performance.now() + timeoutMs;
  try {
    const out = new Uint8Array(size).fill(0x61);
    const back = new Uint8Array(size);
    await writeAll(conn, Uint8Array.of(0x45));
    for (let i = 0; i < count && performance.now() < deadline; i++) {
      const t0 = performance.now();
      await writeAll(conn, out);
      await withTimeout(readExact(conn, back), 10_000, "echo answer");
      samples.push(performance.now() - t0);
    }
  } finally {
    closeQuietly(conn);
  }
  return {
    count: samples.length,
    p50Ms: percentile(samples, 50),
    p99Ms: percentile(samples, 99),
    maxMs: percentile(samples, 100),
  };
}

/** One short connection: what it returns is checked by the caller's `exchange`. */
export type Exchange = (conn: Deno.TcpConn) => Promise<void>;

/** Result of a connection-rate run. */
export interface ConnRateResult {
  concurrency: number;
  /** Connections that completed without error. */
  ok: number;
  errors: number;
  errorKinds: { error: string; count: number }[];
  wallS: number;
  perS: number;
  /** Connect until the first answer byte, per successful connection. */
  firstByteP50Ms: number;
  firstByteP99Ms: number;
}

/**
 * Opens connections at `concurrency` until `maxConns` have been started or `seconds` have
 * passed: connect, `exchange` (send a small request, read the answer), close.
 * `exchange` calls `firstByte()` when the first answer byte arrives.
 */
export async function connRate(
  port: number,
  opts: { concurrency: number; seconds: number; maxConns: number; perConnTimeoutMs?: number },
  exchange: (conn: Deno.TcpConn, firstByte: () => void) => Promise<void>,
): Promise<ConnRateResult> {
  const errors = new ErrorTally();
  const firstByte: number[] = [];
  let started = 0;
  let ok = 0;
  const t0 = performance.now();
  const deadline = t0 + opts.seconds * 1000;
  const perConn = opts.perConnTimeoutMs ?? 10_000;
  const worker = async (): Promise<void> => {
    while (started < opts.maxConns && performance.now() < deadline) {
      started++;
      const c0 = performance.now();
      let conn: Deno.TcpConn | undefined;
      try {
        await withTimeout(
          (async () => {
            conn = await connectLocal(port);
            let first = NaN;
            await exchange(conn, () => {
              if (Number.isNaN(first)) first = performance.now() - c0;
            });
            firstByte.push(first);
          })(),
          perConn,
          "connection",
        );
        ok++;
      } catch (err) {
        errors.add(err);
      } finally {
        if (conn) closeQuietly(conn);
      }
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, worker));
  const wallS = (performance.now() - t0) / 1000;
  return {
    concurrency: opts.concurrency,
    ok,
    errors: errors.total,
    errorKinds: errors.list(),
    wallS,
    perS: ok / wallS,
    firstByteP50Ms: percentile(firstByte.filter(Number.isFinite), 50),
    firstByteP99Ms: percentile(firstByte.filter(Number.isFinite), 99),
  };
}

/** The echo exchange: 'E' + 16 bytes, read 16 bytes back. */
export async function echoExchange(conn: Deno.TcpConn, firstByte: () => void): Promise<void> {
  const msg = new Uint8Array(17).fill(0x62);
  msg[0] = 0x45;
  await writeAll(conn, msg);
  const back = new Uint8Array(16);
  const n = await conn.read(back);
  if (n === null) throw new Error("echo: closed before the answer");
  firstByte();
  await readExact(conn, back.subarray(n));
  if (back.some((b) => b !== 0x62)) throw new Error("echo: wrong bytes");
}
