/**
 * Measuring the paths of the tunnel bench (direct, the proxies, the relay floor, `ssh -L`, the
 * p2p tunnel): bulk upload and download, round trips and new connections, with the CPU of the
 * processes named, each figure a median of runs, and the runs of all paths interleaved.
 */
import { bulkDownload, bulkUpload, connRate, echoExchange, echoRtt } from "./lib/load.ts";
import type { ConnRateResult, RttResult } from "./lib/load.ts";
import { interleaved, type Measured } from "./lib/interleave.ts";
import { type CpuReport, sleep } from "./lib/proc.ts";
import { cpuAccount, fmt, median, medianBy, row } from "./lib/stats.ts";

/** What {@linkcode measurePaths} needs of the tunnel bench's options. */
export interface PathOptions {
  bulkMiB: number;
  runs: number;
  rttCount: number;
  /**
   * Unmeasured round trips between the cold run and the measured ones: V8 keeps optimizing
   * the small-message path for the first ~25,000 round trips of a process, with bursts of
   * slow ones while it does (none with `--max-opt=2`); `ssh` has no JIT to warm.
   */
  rttWarm: number;
  connSeconds: number;
  connMax: number;
  concurrency: number;
}

/** One direction's bulk runs. */
export interface BulkResult {
  /**
   * The first transfer of this direction on the path, before the measured ones (reported, not
   * compared): a JIT runtime's code and a process's heap are still cold in it.
   */
  coldMiBs: number;
  runsMiBs: number[];
  medianMiBs: number;
  /** CPU over all runs of this direction, per process: ms of CPU per MiB moved. */
  cpuMsPerMiB: Record<string, number>;
  /** Share of one core each process used during the runs. */
  coreShare: Record<string, number>;
  machineBusy: number;
  /** What bounds it: see `limitOf` of `lib/stats.ts`. */
  limit: string;
}

/** Figures of one path. */
export interface PathResult {
  upload: BulkResult;
  download: BulkResult;
  bulkMiBs: number;
  /** The run whose p50 is the median of the runs' p50s (p99: the median of their p99s). */
  rtt: RttResult;
  /** The first `rttCount` round trips of the path, before any warm-up (reported, not compared). */
  rttCold: RttResult;
  /** Every RTT run (`runs` of `rttCount` round trips each, after `rttWarm` unmeasured ones). */
  rttRuns: RttResult[];
  /** The run with the median rate (`runs` runs after one unmeasured warm-up). */
  conn: ConnRateResult;
  /** Every measured connection-rate run. */
  connRuns: ConnRateResult[];
  /** CPU during the connection-rate run: ms per connection and core share per process. */
  connCpu: {
    msPerConn: Record<string, number>;
    coreShare: Record<string, number>;
    machineBusy: number;
    limit: string;
  };
}

/** Per-MiB bound of one bulk transfer (≥ 1 MiB/s or it fails). */
export const MIB_TIMEOUT_MS = 1_000;

/** One path to measure: its name in the table, its port and the processes it runs on. */
export interface PathSpec extends Measured {
  name: string;
  port: number;
}

async function bulk(
  paths: readonly PathSpec[],
  direction: "upload" | "download",
  opts: PathOptions,
): Promise<BulkResult[]> {
  const transfer = (path: PathSpec): Promise<number> =>
    (direction === "upload" ? bulkUpload : bulkDownload)(
      path.port,
      opts.bulkMiB,
      10_000 + opts.bulkMiB * MIB_TIMEOUT_MS,
    );
  // Unmeasured, as the round trips' and new connections' warm-ups are: steady state is compared.
  const cold: number[] = [];
  for (const path of paths) cold.push(await transfer(path));
  const measured = await interleaved(paths, opts.runs, transfer);
  const moved = opts.bulkMiB * opts.runs;
  return measured.map(({ results, cpu }, i) => {
    const { msPer, ...bound } = cpuAccount(cpu, moved);
    return {
      coldMiBs: cold[i]!,
      runsMiBs: results,
      medianMiBs: median(results),
      cpuMsPerMiB: msPer,
      ...bound,
    };
  });
}

/**
 * Measures every path: bulk both ways, round trips, new connections; logs one table row per
 * path. The measured runs of all paths are interleaved (`lib/interleave.ts`), so run `i` of
 * two paths can be compared as a pair (`pairedRatio` of `lib/stats.ts`); each path's cold run
 * and warm-up come first.
 */
export async function measurePaths(
  paths: readonly PathSpec[],
  opts: PathOptions,
  log: (line: string) => void,
): Promise<PathResult[]> {
  const uploads = await bulk(paths, "upload", opts);
  const downloads = await bulk(paths, "download", opts);
  const rttCold: RttResult[] = [];
  for (const path of paths) {
    rttCold.push(await echoRtt(path.port, opts.rttCount, 64, 60_000));
    await echoRtt(path.port, opts.rttWarm, 64, 120_000);
  }
  const rtts = await interleaved(
    paths,
    opts.runs,
    (path) => echoRtt(path.port, opts.rttCount, 64, 60_000),
  );
  // Unmeasured warm-up (JIT, accept paths), then the measured runs.
  for (const path of paths) {
    await connRate(path.port, {
      concurrency: opts.concurrency,
      seconds: 1,
      maxConns: Math.ceil(opts.connMax / 10),
    }, echoExchange);
  }
  const conns = await interleaved(paths, opts.runs, (path) =>
    connRate(path.port, {
      concurrency: opts.concurrency,
      seconds: opts.connSeconds,
      maxConns: opts.connMax,
    }, echoExchange));
  return paths.map((path, i) => {
    const rttRuns = rtts[i]!.results;
    const connRuns = conns[i]!.results;
    const result: PathResult = {
      upload: uploads[i]!,
      download: downloads[i]!,
      bulkMiBs: (uploads[i]!.medianMiBs + downloads[i]!.medianMiBs) / 2,
      rtt: { ...medianBy(rttRuns, (r) => r.p50Ms), p99Ms: median(rttRuns.map((r) => r.p99Ms)) },
      rttCold: rttCold[i]!,
      rttRuns,
      conn: medianBy(connRuns, (r) => r.perS),
      connRuns,
      connCpu: connCpuOf(conns[i]!.cpu, connRuns),
    };
    logRow(path.name, result, log);
    return result;
  });
}

function connCpuOf(cpu: CpuReport, runs: readonly ConnRateResult[]): PathResult["connCpu"] {
  const ok = runs.reduce((a, r) => a + r.ok, 0);
  const { msPer, ...bound } = cpuAccount(cpu, Math.max(1, ok));
  return { msPerConn: msPer, ...bound };
}

function logRow(name: string, p: PathResult, log: (line: string) => void): void {
  log(row([
    name,
    fmt(p.upload.medianMiBs),
    fmt(p.download.medianMiBs),
    fmt(p.rtt.p50Ms, 3),
    fmt(p.rtt.p99Ms, 3),
    fmt(p.conn.perS, 0),
    fmt(p.conn.firstByteP50Ms, 2),
    String(p.connRuns.reduce((a, r) => a + r.errors, 0)),
  ], WIDTHS));
}

/** Column widths of the path table. */
export const WIDTHS: number[] = [14, 10, 10, 10, 10, 9, 10, 6];

/** Sends 'E' + bytes through `port` until an echo comes back (the tunnel is ready). */
export async function warmUp(port: number, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    const r = await connRate(port, {
      concurrency: 1,
      seconds: 15,
      maxConns: 1,
      perConnTimeoutMs: 15_000,
    }, echoExchange);
    if (r.ok === 1) return;
    last = r.errorKinds[0]?.error;
    await sleep(200);
  }
  throw new Error(`${what} did not echo within ${timeoutMs} ms: ${String(last)}`);
}
