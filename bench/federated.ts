/**
 * Federated bench (issue 5 §5): `p2p federated --strategy round-robin` over three
 * `p2p worker` processes, each in front of a tiny HTTP backend, against the same backends
 * reached directly, through a plain TCP round-robin proxy, and through the relay floor (a
 * Deno relay round-robin over one Deno relay per backend: the same processes, no libp2p).
 * New connections/s at concurrency 16, connect-to-first-byte latency, and every error counted
 * and printed.
 */
import { generateToken } from "../src/token/token.ts";
import { connRate, type ConnRateResult } from "./lib/load.ts";
import { writeAll } from "./lib/net.ts";
import { interleaved, type Measured } from "./lib/interleave.ts";
import { cpuProbe, type CpuReport, sleep } from "./lib/proc.ts";
import { type PlainProxy, type ProxyChoice, startProxy, startRelayChain } from "./lib/proxy.ts";
import { loopbackFlags, type P2PChild, spawnP2P, spawnServer } from "./lib/spawn.ts";
import { coreShares, cpuAccount, fmt, medianBy, row } from "./lib/stats.ts";

/** Sizes and bounds of the federated bench. */
export interface FederatedOptions {
  workers: number;
  concurrency: number;
  /** Loaded runs per path, interleaved across the paths. */
  runs: number;
  seconds: number;
  maxConns: number;
  /** Sequential (concurrency 1) connections for the unloaded latency. */
  sequential: number;
  /** Idle period over which the p2p processes' background CPU is measured. */
  idleMs: number;
}

/** Full-size settings. */
export const FEDERATED_FULL: FederatedOptions = {
  workers: 3,
  concurrency: 16,
  runs: 3,
  seconds: 2,
  maxConns: 5000,
  sequential: 300,
  idleMs: 3_000,
};

/** `--quick` settings. */
export const FEDERATED_QUICK: FederatedOptions = {
  workers: 3,
  concurrency: 16,
  runs: 1,
  seconds: 0.5,
  maxConns: 200,
  sequential: 50,
  idleMs: 500,
};

/** One path's figures. */
export interface FederatedPath {
  /** The concurrency-16 run with the median rate: connections/s, first-byte latency, errors. */
  loaded: ConnRateResult;
  /**
   * Every concurrency-16 run, in order; run `i` of each path was measured in the same round
   * as the other paths' run `i` (`lib/interleave.ts`).
   */
  loadedRuns: ConnRateResult[];
  /** Concurrency-1 run: unloaded connect-to-first-byte latency. */
  sequential: ConnRateResult;
  /** Errors of all loaded runs. */
  loadedErrors: number;
  /** Errors of the unmeasured warm-up run (counted in the zero-error check). */
  warmupErrors: number;
  /** Answers per backend (round-robin check). */
  perBackend: number[];
  /** CPU share of one core per process during the loaded runs. */
  coreShare: Record<string, number>;
  /** CPU ms per successful connection of the loaded runs, per process. */
  msPerConn: Record<string, number>;
  machineBusy: number;
  /** What bounds the loaded runs: see `limitOf` of `lib/stats.ts`. */
  limit: string;
}

/** Everything the federated bench measured. */
export interface FederatedResult {
  options: FederatedOptions;
  proxyKind: string;
  /**
   * `relay`: a Deno relay round-robin over one Deno relay per backend, the balancer's process
   * topology (balancer, workers) without libp2p.
   */
  paths: {
    direct: FederatedPath;
    proxy: FederatedPath;
    relay: FederatedPath;
    federated: FederatedPath;
  };
  /** Errors through the balancer (warm-up, loaded and sequential runs). */
  federatedErrors: number;
  /** Share of one core each p2p process used while idle, after start-up. */
  idleCpu: Record<string, number>;
  startupMs: number;
}

const REQUEST = new TextEncoder().encode(
  "GET / HTTP/1.1\r\nHost: bench\r\nUser-Agent: p2p-bench\r\n\r\n",
);

/**
 * One HTTP request and its answer per connection, counting answers per backend (the answer
 * names it) in `perBackend`.
 */
export function httpExchange(
  perBackend: number[],
): (conn: Deno.TcpConn, firstByte: () => void) => Promise<void> {
  return async (conn: Deno.TcpConn, firstByte: () => void): Promise<void> => {
    await writeAll(conn, REQUEST);
    const buf = new Uint8Array(4096);
    let text = "";
    while (text.length < 65536) {
      const n = await conn.read(buf);
      if (n === null) break;
      if (text === "") firstByte();
      text += new TextDecoder().decode(buf.subarray(0, n));
    }
    if (!text.startsWith("HTTP/1.1 200 ")) {
      throw new Error(`answer: ${JSON.stringify(text.slice(0, 80)) || "(empty)"}`);
    }
    const m = text.match(/\r\n\r\nb(\d+)\n$/);
    if (!m) throw new Error(`answer body: ${JSON.stringify(text.slice(-40))}`);
    const i = Number(m[1]);
    perBackend[i] = (perBackend[i] ?? 0) + 1;
  };
}

const WIDTHS = [16, 9, 8, 10, 10, 10, 10, 14];

/** One path of the federated bench: its name in the table, its port and its processes. */
interface FederatedSpec extends Measured {
  name: string;
  port: number;
}

/**
 * Measures every path: an unmeasured warm-up each, the loaded runs of all paths interleaved,
 * then each path's sequential run; logs one table row per path.
 */
async function measureAll(
  paths: readonly FederatedSpec[],
  opts: FederatedOptions,
  log: (line: string) => void,
): Promise<FederatedPath[]> {
  const warmups: ConnRateResult[] = [];
  for (const path of paths) {
    // Unmeasured warm-up (JIT, accept paths), then the measured runs.
    const warm = await connRate(path.port, {
      concurrency: opts.concurrency,
      seconds: 1,
      maxConns: Math.ceil(opts.maxConns / 10),
    }, httpExchange([]));
    for (const e of warm.errorKinds) log(`  ${path.name} warm-up error ×${e.count}: ${e.error}`);
    warmups.push(warm);
  }
  const perBackend = paths.map(() => Array.from({ length: opts.workers }, () => 0));
  const loaded = await interleaved(
    paths.map((path, i) => ({ ...path, perBackend: perBackend[i]! })),
    opts.runs,
    (path) =>
      connRate(path.port, {
        concurrency: opts.concurrency,
        seconds: opts.seconds,
        maxConns: opts.maxConns,
      }, httpExchange(path.perBackend)),
  );
  const out: FederatedPath[] = [];
  for (const [i, path] of paths.entries()) {
    const sequential = await connRate(path.port, {
      concurrency: 1,
      seconds: 20,
      maxConns: opts.sequential,
    }, httpExchange(perBackend[i]!));
    out.push(pathResult(path, warmups[i]!, loaded[i]!, sequential, perBackend[i]!, log));
  }
  return out;
}

function pathResult(
  path: FederatedSpec,
  warm: ConnRateResult,
  loaded: { results: ConnRateResult[]; cpu: CpuReport },
  sequential: ConnRateResult,
  perBackend: number[],
  log: (line: string) => void,
): FederatedPath {
  const runs = loaded.results;
  const median = medianBy(runs, (r) => r.perS);
  const errors = runs.reduce((sum, r) => sum + r.errors, 0);
  const ok = runs.reduce((sum, r) => sum + r.ok, 0);
  log(row([
    path.name,
    fmt(median.perS, 0),
    String(warm.errors + errors + sequential.errors),
    fmt(sequential.firstByteP50Ms, 2),
    fmt(sequential.firstByteP99Ms, 2),
    fmt(median.firstByteP50Ms, 2),
    fmt(median.firstByteP99Ms, 2),
    perBackend.join("/"),
  ], WIDTHS));
  for (const r of [...runs, sequential]) {
    for (const e of r.errorKinds) log(`  ${path.name} error ×${e.count}: ${e.error}`);
  }
  const { msPer, ...bound } = cpuAccount(loaded.cpu, Math.max(1, ok));
  return {
    loaded: median,
    loadedRuns: runs,
    loadedErrors: errors,
    sequential,
    warmupErrors: warm.errors,
    perBackend,
    msPerConn: msPer,
    ...bound,
  };
}

/** Waits (bounded) until the balancer's API lists `count` workers online. */
export async function waitOnline(api: string, count: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    try {
      const r = await fetch(`${api}/api/p2p/stats`, { signal: AbortSignal.timeout(2_000) });
      const body = await r.json() as { federated?: { online?: number } };
      last = JSON.stringify(body.federated);
      if ((body.federated?.online ?? 0) >= count) return;
    } catch (err) {
      last = String(err);
    }
    await sleep(200);
  }
  throw new Error(`${count} workers not online within ${timeoutMs} ms (last: ${last})`);
}

/** Runs the federated bench; every process it starts is stopped before it returns. */
export async function runFederatedBench(
  opts: FederatedOptions,
  proxyChoice: ProxyChoice,
  log: (line: string) => void,
): Promise<FederatedResult> {
  const started: { stop(): Promise<void> }[] = [];
  try {
    const t0 = performance.now();
    const backends = await spawnServer<{ ports: number[] }>("http_backends.ts", [
      String(opts.workers),
    ]);
    started.push(backends.child);
    const ports = backends.info.ports;
    const proxy: PlainProxy = await startProxy(proxyChoice, ports, "rr");
    started.push(proxy);
    const relay = await startRelayChain(ports);
    started.push(relay);
    const token = generateToken();
    const fed: P2PChild = await spawnP2P("federated", [
      "federated",
      "--listen",
      "127.0.0.1:0",
      "--strategy",
      "round-robin",
      "--api-listen",
      "127.0.0.1:0",
      ...loopbackFlags(token, []),
    ]);
    started.push(fed.child);
    const workers = await Promise.all(ports.map((p, i) =>
      spawnP2P(`worker${i}`, [
        "worker",
        "--target",
        `127.0.0.1:${p}`,
        "--name",
        `benchworker${String.fromCharCode(97 + i)}`,
        ...loopbackFlags(token, [fed.addr]),
      ])
    ));
    started.push(...workers.map((w) => w.child));
    const listen = fed.start.listen;
    const api = fed.start.api;
    if (typeof listen !== "string" || typeof api !== "string") {
      throw new Error("federated printed no listen or api address");
    }
    const fedPort = Number(listen.split(":").pop());
    await waitOnline(api, opts.workers, 60_000);
    // Warm up: one answer from every backend through the balancer.
    const seen = Array.from({ length: opts.workers }, () => 0);
    const deadline = Date.now() + 30_000;
    while (seen.some((n) => n === 0) && Date.now() < deadline) {
      await connRate(
        fedPort,
        { concurrency: 1, seconds: 10, maxConns: opts.workers },
        httpExchange(seen),
      );
      if (seen.some((n) => n === 0)) await sleep(200);
    }
    if (seen.some((n) => n === 0)) {
      throw new Error(
        `warm-up: not every backend answered through the balancer (${seen.join("/")})`,
      );
    }
    const startupMs = performance.now() - t0;
    log(
      `federated: backends :${ports.join(",:")}, ${proxy.kind} rr :${proxy.port}, balancer ` +
        `:${fedPort} (pid ${fed.child.pid}), workers pids ${
          workers.map((w) => w.child.pid).join(",")
        }; ready in ${fmt(startupMs / 1000)} s`,
    );
    const p2pPids = {
      federated: fed.child.pid,
      ...Object.fromEntries(workers.map((w, i) => [`worker${i}`, w.child.pid])),
    };
    const stopIdle = cpuProbe(p2pPids);
    await sleep(opts.idleMs);
    const idleCpu = coreShares(stopIdle());
    log(
      `idle CPU over ${opts.idleMs / 1000} s (share of one core): ${
        Object.entries(idleCpu).map(([k, v]) => `${k} ${fmt(v * 100, 1)}%`).join(", ")
      }`,
    );
    log(row(
      [
        "path",
        "conn/s",
        "errors",
        "seq p50ms",
        "seq p99ms",
        "c16 p50ms",
        "c16 p99ms",
        "per backend",
      ],
      WIDTHS,
    ));
    const base = { harness: Deno.pid, backends: backends.child.pid };
    const [direct, proxyPath, relayPath, federated] = await measureAll(
      [
        { name: "direct b0", port: ports[0]!, pids: base },
        { name: `proxy rr(${proxy.kind})`, port: proxy.port, pids: { ...base, proxy: proxy.pid } },
        { name: "deno relay rr", port: relay.port, pids: { ...base, ...relay.pids } },
        { name: "p2p federated", port: fedPort, pids: { ...base, ...p2pPids } },
      ],
      opts,
      log,
    ) as [FederatedPath, FederatedPath, FederatedPath, FederatedPath];
    for (
      const [name, p] of [
        ["direct", direct],
        ["proxy", proxyPath],
        ["relay", relayPath],
        ["federated", federated],
      ] as const
    ) {
      log(
        `cpu ${name} c16: ${
          Object.entries(p.coreShare).map(([k, v]) =>
            `${k} ${fmt(v * 100, 0)}% ${fmt(p.msPerConn[k], 2)} ms/conn`
          ).join(", ")
        }; machine busy ${fmt(p.machineBusy * 100, 0)}% → ${p.limit}`,
      );
    }
    const federatedErrors = federated.warmupErrors + federated.loadedErrors +
      federated.sequential.errors;
    log(
      federatedErrors === 0
        ? "federated: zero errors"
        : `federated: ${federatedErrors} ERRORS (listed above)`,
    );
    return {
      options: opts,
      proxyKind: proxy.kind,
      paths: { direct, proxy: proxyPath, relay: relayPath, federated },
      federatedErrors,
      idleCpu,
      startupMs,
    };
  } finally {
    await Promise.all(started.map((s) => s.stop().catch(() => {})));
  }
}
