/**
 * Measuring one path of the tunnel bench (direct, a proxy, the relay floor, `ssh -L`, the
 * p2p tunnel): bulk upload and download, round trips and new connections, with the CPU of the
 * processes named, each figure a median of runs.
 */
import { bulkDownload, bulkUpload, connRate, echoExchange, echoRtt } from "./lib/load.ts";
import type { ConnRateResult, RttResult } from "./lib/load.ts";
import { cpuProbe, type CpuReport, sleep } from "./lib/proc.ts";
import { fmt, limitOf, median, row } from "./lib/stats.ts";

/** What {@linkcode measurePath} needs of the tunnel bench's options. */
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
  /** What bounds it: see {@linkcode limitOf}. */
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

async function bulk(
  port: number,
  direction: "upload" | "download",
  opts: PathOptions,
  pids: Record<string, number>,
): Promise<BulkResult> {
  const transfer = (): Promise<number> =>
    (direction === "upload" ? bulkUpload : bulkDownload)(
      port,
      opts.bulkMiB,
      10_000 + opts.bulkMiB * MIB_TIMEOUT_MS,
    );
  // Unmeasured, as the round trips' and new connections' warm-ups are: steady state is compared.
  const coldMiBs = await transfer();
  const runs: number[] = [];
  const stopCpu = cpuProbe(pids);
  for (let i = 0; i < opts.runs; i++) runs.push(await transfer());
  const cpu: CpuReport = stopCpu();
  const moved = opts.bulkMiB * opts.runs;
  const coreShare = Object.fromEntries(
    Object.entries(cpu.procs).map(([k, v]) => [k, v.coreShare]),
  );
  return {
    coldMiBs,
    runsMiBs: runs,
    medianMiBs: median(runs),
    cpuMsPerMiB: Object.fromEntries(
      Object.entries(cpu.procs).map(([k, v]) => [k, (v.cpuS * 1000) / moved]),
    ),
    coreShare,
    machineBusy: cpu.machineBusy,
    limit: limitOf(coreShare, cpu.machineBusy),
  };
}

/** Measures one path: bulk both ways, round trips, new connections; logs its table row. */
export async function measurePath(
  name: string,
  port: number,
  opts: PathOptions,
  pids: Record<string, number>,
  log: (line: string) => void,
): Promise<PathResult> {
  const upload = await bulk(port, "upload", opts, pids);
  const download = await bulk(port, "download", opts, pids);
  const rttCold = await echoRtt(port, opts.rttCount, 64, 60_000);
  await echoRtt(port, opts.rttWarm, 64, 120_000);
  const rttRuns: RttResult[] = [];
  for (let i = 0; i < opts.runs; i++) rttRuns.push(await echoRtt(port, opts.rttCount, 64, 60_000));
  const rtt: RttResult = {
    ...medianBy(rttRuns, (r) => r.p50Ms),
    p99Ms: median(rttRuns.map((r) => r.p99Ms)),
  };
  // Unmeasured warm-up (JIT, accept paths), then the measured runs.
  await connRate(port, {
    concurrency: opts.concurrency,
    seconds: 1,
    maxConns: Math.ceil(opts.connMax / 10),
  }, echoExchange);
  const stopCpu = cpuProbe(pids);
  const connRuns: ConnRateResult[] = [];
  for (let i = 0; i < opts.runs; i++) {
    connRuns.push(
      await connRate(port, {
        concurrency: opts.concurrency,
        seconds: opts.connSeconds,
        maxConns: opts.connMax,
      }, echoExchange),
    );
  }
  const conn = medianBy(connRuns, (r) => r.perS);
  const connOk = connRuns.reduce((a, r) => a + r.ok, 0);
  const cpu = stopCpu();
  const connShare = Object.fromEntries(
    Object.entries(cpu.procs).map(([k, v]) => [k, v.coreShare]),
  );
  const connCpu = {
    msPerConn: Object.fromEntries(
      Object.entries(cpu.procs).map(([k, v]) => [k, (v.cpuS * 1000) / Math.max(1, connOk)]),
    ),
    coreShare: connShare,
    machineBusy: cpu.machineBusy,
    limit: limitOf(connShare, cpu.machineBusy),
  };
  const result: PathResult = {
    upload,
    download,
    bulkMiBs: (upload.medianMiBs + download.medianMiBs) / 2,
    rtt,
    rttCold,
    rttRuns,
    conn,
    connRuns,
    connCpu,
  };
  log(row([
    name,
    fmt(upload.medianMiBs),
    fmt(download.medianMiBs),
    fmt(rtt.p50Ms, 3),
    fmt(rtt.p99Ms, 3),
    fmt(conn.perS, 0),
    fmt(conn.firstByteP50Ms, 2),
    String(connRuns.reduce((a, r) => a + r.errors, 0)),
  ], WIDTHS));
  return result;
}

/** The element whose `key` is the median (the lower middle one for an even count). */
function medianBy<T>(xs: readonly T[], key: (x: T) => number): T {
  const sorted = [...xs].sort((a, b) => key(a) - key(b));
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
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
