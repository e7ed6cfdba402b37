// What flows through the end-to-end suites: the payload backends send, clients that classify
// how each connection ended (checking every byte), and load loops. Loopback only.
import { withTimeout } from "../_helpers/mod.ts";
import { createHash } from "node:crypto";
import { closeQuietly, writeAll } from "../_helpers/tcp.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

// ---------------------------------------------------------------------------------------
// Payload

/** Largest download a backend serves. */
export const MAX_DOWNLOAD = 4 * 1024 * 1024;

/** The bytes every download serves: a fixed pseudo-random pattern (its first N bytes). */
export const PATTERN: Uint8Array = (() => {
  const out = new Uint8Array(MAX_DOWNLOAD);
  let x = 0x2545f491;
  for (let i = 0; i < out.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
})();

const patternHashes = new Map<number, string>();

/** sha256 (hex) of the first `bytes` bytes of {@linkcode PATTERN}. */
export function patternSha256(bytes: number): string {
  let hash = patternHashes.get(bytes);
  if (hash === undefined) {
    hash = createHash("sha256").update(PATTERN.subarray(0, bytes)).digest("hex");
    patternHashes.set(bytes, hash);
  }
  return hash;
}

// ---------------------------------------------------------------------------------------
// Clients

/**
 * How a client connection ended:
 * - `ok`: a complete `200` answer, every byte checked (sha256 of the download);
 * - `closed`: the connection ended early (EOF or reset) with a correct prefix: a clean close;
 * - `refused`: nothing listened (the balancer was down);
 * - `unavailable`: the balancer answered `503`;
 * - `corrupt`: bytes differ from what the backend sent (always a failure);
 * - `timeout`: no end within the bound (a hang: always a failure).
 */
export type Outcome = "ok" | "closed" | "refused" | "unavailable" | "corrupt" | "timeout";

/** One client connection, as the client saw it. */
export interface ClientResult {
  outcome: Outcome;
  /** The backend that answered (first body line), if any. */
  worker: string | undefined;
  /** Body bytes after the name line. */
  bytes: number;
  startedAt: number;
  endedAt: number;
  detail?: string;
}

/**
 * `GET /download?bytes=N` (or `GET /` when `bytes` is 0) through `address`, read to the end
 * and classified; never throws and never takes longer than `timeoutMs`.
 */
export async function fetchThrough(
  address: string,
  bytes: number,
  timeoutMs = 10_000,
): Promise<ClientResult> {
  const startedAt = Date.now();
  const [hostname, port] = address.split(":");
  let conn: Deno.TcpConn | undefined;
  const result = (outcome: Outcome, worker?: string, got = 0, detail?: string): ClientResult => ({
    outcome,
    worker,
    bytes: got,
    startedAt,
    endedAt: Date.now(),
    ...(detail === undefined ? {} : { detail }),
  });
  const attempt = async (): Promise<ClientResult> => {
    try {
      conn = await Deno.connect({ hostname: hostname!, port: Number(port) });
    } catch (err) {
      return result("refused", undefined, 0, String(err));
    }
    const path = bytes > 0 ? `/download?bytes=${bytes}` : "/";
    try {
      await writeAll(conn, encoder.encode(`GET ${path} HTTP/1.1\r\nHost: e2e\r\n\r\n`));
    } catch (err) {
      return result("closed", undefined, 0, `write: ${err}`);
    }
    const chunks: Uint8Array[] = [];
    let total = 0;
    let ending = "eof";
    const buffer = new Uint8Array(64 * 1024);
    try {
      while (true) {
        const n = await conn.read(buffer);
        if (n === null) break;
        chunks.push(buffer.slice(0, n));
        total += n;
      }
    } catch (err) {
      ending = `read error ${err instanceof Error ? err.name : err}`;
    }
    const raw = new Uint8Array(total);
    let offset = 0;
    for (const c of chunks) {
      raw.set(c, offset);
      offset += c.byteLength;
    }
    return classify(raw, bytes, ending, result);
  };
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      attempt(),
      new Promise<ClientResult>((resolve) => {
        timer = setTimeout(() => resolve(result("timeout", undefined, 0)), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
    if (conn !== undefined) closeQuietly(conn);
  }
}

function classify(
  raw: Uint8Array,
  bytes: number,
  ending: string,
  result: (outcome: Outcome, worker?: string, got?: number, detail?: string) => ClientResult,
): ClientResult {
  const headEnd = indexOf(raw, encoder.encode("\r\n\r\n"));
  if (headEnd < 0) return result("closed", undefined, 0, `${ending} before a full head`);
  const head = decoder.decode(raw.subarray(0, headEnd));
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
  const body = raw.subarray(headEnd + 4);
  if (status === 503) return result("unavailable", undefined, 0, decoder.decode(body));
  if (status !== 200) return result("corrupt", undefined, 0, `status line ${JSON.stringify(head)}`);
  const newline = body.indexOf(10);
  if (newline < 0) return result("closed", undefined, 0, `${ending} before the name line`);
  const worker = decoder.decode(body.subarray(0, newline));
  const data = body.subarray(newline + 1);
  // Every byte received must be the backend's byte at that offset, complete or not.
  for (let i = 0; i < Math.min(data.byteLength, bytes); i++) {
    if (data[i] !== PATTERN[i]) {
      return result("corrupt", worker, data.byteLength, `byte ${i} differs`);
    }
  }
  if (data.byteLength > bytes) {
    return result("corrupt", worker, data.byteLength, `${data.byteLength - bytes} extra bytes`);
  }
  if (data.byteLength < bytes) {
    return result("closed", worker, data.byteLength, `${ending} after ${data.byteLength} bytes`);
  }
  const sha = createHash("sha256").update(data).digest("hex");
  if (sha !== patternSha256(bytes)) return result("corrupt", worker, data.byteLength, "sha256");
  return result("ok", worker, data.byteLength);
}

function indexOf(haystack: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/** A connection held open through the balancer (`GET /hold`), and how it ends. */
export interface HeldConnection {
  worker: string;
  /** Resolves with the ms since the epoch at which the connection ended (EOF or error). */
  ended: Promise<number>;
  /** Whether it has ended. */
  readonly done: boolean;
  close(): void;
}

/** Opens `GET /hold` through `address` and waits (bounded) for the worker's name line. */
export async function hold(address: string, timeoutMs = 10_000): Promise<HeldConnection> {
  const [hostname, port] = address.split(":");
  const conn = await Deno.connect({ hostname: hostname!, port: Number(port) });
  try {
    await writeAll(conn, encoder.encode("GET /hold HTTP/1.1\r\nHost: e2e\r\n\r\n"));
    let text = "";
    const buffer = new Uint8Array(4096);
    await withTimeout(
      (async () => {
        while (!/\r\n\r\n[^\n]*\n/.test(text)) {
          const n = await conn.read(buffer);
          if (n === null) throw new Error(`EOF before the name line: ${JSON.stringify(text)}`);
          text += decoder.decode(buffer.subarray(0, n));
        }
      })(),
      timeoutMs,
      "the name line of a held connection",
    );
    const worker = /\r\n\r\n([^\n]*)\n/.exec(text)![1]!;
    let done = false;
    const ended = (async () => {
      try {
        while ((await conn.read(buffer)) !== null) {
          // nothing more is expected
        }
      } catch {
        // reset: an end too
      }
      done = true;
      return Date.now();
    })();
    return {
      worker,
      ended,
      get done() {
        return done;
      },
      close: () => closeQuietly(conn),
    };
  } catch (err) {
    closeQuietly(conn);
    throw err;
  }
}

/** Clients in a loop through `address` until `stop()`: every result is kept. */
export class Load {
  readonly results: ClientResult[] = [];
  #running = true;
  #lanes: Promise<void>[];

  constructor(
    address: () => string,
    { lanes, bytes, timeoutMs = 10_000 }: { lanes: number; bytes: number; timeoutMs?: number },
  ) {
    this.#lanes = Array.from({ length: lanes }, async () => {
      while (this.#running) {
        const r = await fetchThrough(address(), bytes, timeoutMs);
        this.results.push(r);
        // Nothing listens (the balancer is restarting): retry soon, not in a busy loop.
        if (r.outcome === "refused") await new Promise((resolve) => setTimeout(resolve, 20));
      }
    });
  }

  /** Results of connections started in [from, to). */
  between(from: number, to = Infinity): ClientResult[] {
    return this.results.filter((r) => r.startedAt >= from && r.startedAt < to);
  }

  /** Stops the loops and waits for the connections in flight (each is bounded). */
  async stop(): Promise<ClientResult[]> {
    this.#running = false;
    await Promise.all(this.#lanes);
    return this.results;
  }
}

/** `outcome=count` of `results`, for messages. */
export function tally(results: ClientResult[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of results) {
    const key = r.outcome === "ok" ? `ok:${r.worker}` : r.outcome;
    out[key] = (out[key] ?? 0) + 1;
  }
  return out;
}
