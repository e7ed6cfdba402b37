/**
 * Multi-process scale bench (issue 18): N separate `p2p node` processes on loopback (a seed
 * and N−1 nodes bootstrapped to it), DHT off and on, N = 10, 20, 40 by default. Per size: how
 * long the network takes to be ready, each node's idle RSS and CPU, and how long a ledger
 * write on one node takes to be readable on every node (median of several writes).
 *
 * Readings go through each node's HTTP API (GET `/api/ledger/B/K`, polled every
 * {@linkcode POLL_MS} ms on the nodes that have not seen the value yet), so the times carry
 * that resolution. The in-process ledger bench (`ledger.ts`) runs N nodes on one event loop;
 * this one gives each node its own process, as a real network does.
 */
import { generateToken } from "../src/token/token.ts";
import { type Child, cpuProbe, rssMiB, sleep } from "./lib/proc.ts";
import { loopbackFlags, type P2PChild, spawnP2P } from "./lib/spawn.ts";
import { fmt, median, row } from "./lib/stats.ts";

/** Sizes of the scale bench. */
export interface ScaleOptions {
  sizes: number[];
  /** Writes timed per size. */
  writes: number;
  /** Idle period over which CPU and RSS are read, ms. */
  idleMs: number;
  /** Bound on the network's readiness, ms (the run goes on and says so). */
  readyTimeoutMs: number;
  /** Bound on one write reaching every node, ms. */
  writeTimeoutMs: number;
  /** Configurations: DHT off, on. */
  dht: boolean[];
  /**
   * With the DHT on, the writes are timed again this long after the first ones, in a formed
   * network (0: not). 20 processes that just started keep 2 cores busy for about a minute
   * (each V8 compiling the same code, the DHT and gossip meshes forming), and a write timed
   * then measures the queue for the CPU as much as the ledger.
   */
  settleMs: number;
}

/** Full-size settings. */
export const SCALE_FULL: ScaleOptions = {
  sizes: [10, 20, 40],
  writes: 3,
  idleMs: 5_000,
  readyTimeoutMs: 90_000,
  writeTimeoutMs: 20_000,
  dht: [false, true],
  settleMs: 60_000,
};

/** `--quick` settings. */
export const SCALE_QUICK: ScaleOptions = {
  sizes: [4],
  writes: 1,
  idleMs: 1_000,
  readyTimeoutMs: 30_000,
  writeTimeoutMs: 10_000,
  dht: [false],
  settleMs: 0,
};

/** Poll interval of the readers, ms (the resolution of the write times). */
export const POLL_MS = 50;
/** Nodes started at once (2 cores: more only queue up their start-up). */
const START_BATCH = 5;

/** One size and DHT setting. */
export interface ScaleRow {
  n: number;
  dht: boolean;
  /** From the first spawn until every node saw its members (or the bound). */
  readyMs: number;
  /** Whether every node saw as many members as it should within the bound. */
  ready: boolean;
  /** Members each node sees: min and median. */
  membersMin: number;
  membersMedian: number;
  /** Idle RSS per node, MiB: median and max. */
  rssMedianMiB: number;
  rssMaxMiB: number;
  /** RSS per node in the formed network (median, MiB; NaN when not timed again). */
  formedRssMedianMiB: number;
  /** Idle CPU per node, share of one core: median and max. */
  cpuMedian: number;
  cpuMax: number;
  /** Per write: ms until every node read it (NaN when some never did within the bound). */
  writesMs: number[];
  writeMedianMs: number;
  /** Share of one core per node while the writes spread: median and max. */
  writeCpuMedian: number;
  writeCpuMax: number;
  /** The same writes timed in the formed network (`settleMs` later; empty when not). */
  formedWritesMs: number[];
  formedWriteMedianMs: number;
}

/** What the scale bench measured. */
export interface ScaleResult {
  options: ScaleOptions;
  rows: ScaleRow[];
}

interface NodeProc {
  p2p: P2PChild;
  api: string;
}

async function getJson(url: string, timeoutMs = 2_000): Promise<unknown> {
  const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  if (response.status === 404) {
    await response.body?.cancel();
    return undefined;
  }
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return await response.json();
}

async function members(node: NodeProc): Promise<number> {
  try {
    const info = await getJson(`${node.api}/api/node`) as { members?: number };
    return info.members ?? 0;
  } catch {
    return 0;
  }
}

/** Waits until every node sees `want(i)` members (bounded); returns whether they did. */
async function waitReady(
  nodes: NodeProc[],
  want: (i: number) => number,
  timeoutMs: number,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  const done = new Set<number>();
  while (Date.now() < deadline) {
    await Promise.all(nodes.map(async (node, i) => {
      if (!done.has(i) && await members(node) >= want(i)) done.add(i);
    }));
    if (done.size === nodes.length) return true;
    await sleep(250);
  }
  return false;
}

/** Writes on `writer` and polls every node until all read the value; ms, or NaN. */
async function timeWrite(
  nodes: NodeProc[],
  writer: NodeProc,
  key: string,
  timeoutMs: number,
): Promise<number> {
  const value = `v-${key}`;
  const t0 = performance.now();
  // A loaded machine (40 nodes with the DHT on, 2 cores) can answer slowly: the write counts
  // from its request, and a write that never reaches everyone within the bound is NaN.
  try {
    const put = await fetch(`${writer.api}/api/ledger/scale/${key}`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(value),
      signal: AbortSignal.timeout(timeoutMs),
    });
    await put.body?.cancel();
    if (!put.ok) return NaN;
  } catch {
    return NaN;
  }
  const pending = new Set(nodes.map((_, i) => i));
  const deadline = t0 + timeoutMs;
  while (pending.size > 0 && performance.now() < deadline) {
    await Promise.all([...pending].map(async (i) => {
      try {
        const got = await getJson(`${nodes[i]!.api}/api/ledger/scale/${key}`, 5_000);
        if (got === value) pending.delete(i);
      } catch {
        // a slow answer: asked again next round
      }
    }));
    if (pending.size > 0) await sleep(POLL_MS);
  }
  return pending.size === 0 ? performance.now() - t0 : NaN;
}

async function runSize(
  n: number,
  dht: boolean,
  opts: ScaleOptions,
  started: Child[],
): Promise<ScaleRow> {
  const token = generateToken();
  const flags = (bootstrap: string[]): string[] => [
    ...loopbackFlags(token, bootstrap),
    ...(dht ? [] : ["--no-dht"]),
    "--api-listen",
    "127.0.0.1:0",
  ];
  const t0 = performance.now();
  const spawn = async (name: string, bootstrap: string[]): Promise<NodeProc> => {
    const p2p = await spawnP2P(name, ["node", ...flags(bootstrap)], { timeoutMs: 60_000 });
    started.push(p2p.child);
    const api = p2p.start.api;
    if (typeof api !== "string") throw new Error(`${name} printed no API address`);
    return { p2p, api };
  };
  const seed = await spawn(`scale-${n}-seed`, []);
  const nodes: NodeProc[] = [seed];
  for (let i = 1; i < n; i += START_BATCH) {
    const batch = Array.from({ length: Math.min(START_BATCH, n - i) }, (_, j) => i + j);
    nodes.push(...await Promise.all(batch.map((k) => spawn(`scale-${n}-${k}`, [seed.p2p.addr]))));
  }
  // DHT off: a star around the seed. DHT on: every node finds every other.
  const ready = await waitReady(
    nodes,
    (i) => dht || i === 0 ? n - 1 : 1,
    opts.readyTimeoutMs,
  );
  const readyMs = performance.now() - t0;
  const counts = await Promise.all(nodes.map(members));

  const pids = Object.fromEntries(nodes.map((node, i) => [String(i), node.p2p.child.pid]));
  const idle = cpuProbe(pids);
  await sleep(opts.idleMs);
  const idleCpu = Object.values(idle().procs).map((p) => p.coreShare);
  const rss = nodes.map((node) => rssMiB(node.p2p.child.pid));

  const timeWrites = async (prefix: string): Promise<number[]> => {
    const times: number[] = [];
    for (let w = 0; w < opts.writes; w++) {
      // A leaf writes (the seed would be one hop closer to everyone).
      const writer = nodes[1 + (w % (n - 1))]!;
      times.push(await timeWrite(nodes, writer, `${prefix}${w}`, opts.writeTimeoutMs));
      await sleep(500);
    }
    return times;
  };
  const during = cpuProbe(pids);
  const writesMs = await timeWrites("k");
  const writeCpu = Object.values(during().procs).map((p) => p.coreShare);
  let formedWritesMs: number[] = [];
  let formedRss: number[] = [];
  if (dht && opts.settleMs > 0) {
    await sleep(opts.settleMs);
    formedRss = nodes.map((node) => rssMiB(node.p2p.child.pid));
    formedWritesMs = await timeWrites("formed-k");
  }
  return {
    n,
    dht,
    readyMs,
    ready,
    membersMin: Math.min(...counts),
    membersMedian: median(counts),
    rssMedianMiB: median(rss),
    rssMaxMiB: Math.max(...rss),
    formedRssMedianMiB: formedRss.length === 0 ? NaN : median(formedRss),
    cpuMedian: median(idleCpu),
    cpuMax: Math.max(...idleCpu),
    writesMs,
    writeMedianMs: medianOfAll(writesMs),
    writeCpuMedian: median(writeCpu),
    writeCpuMax: Math.max(...writeCpu),
    formedWritesMs,
    formedWriteMedianMs: medianOfAll(formedWritesMs),
  };
}

/** The median of the write times; NaN when a write never reached every node (or none ran). */
function medianOfAll(times: number[]): number {
  return times.some(Number.isNaN) ? NaN : median(times);
}

const WIDTHS = [6, 4, 9, 9, 10, 10, 10, 10, 10, 18, 10, 18, 10];

/** Runs the scale bench; every process it starts is stopped before the next size. */
export async function runScaleBench(
  opts: ScaleOptions,
  log: (line: string) => void,
): Promise<ScaleResult> {
  log(
    `scale: N separate p2p node processes, a seed and N−1 nodes bootstrapped to it; ` +
      `writes read back through each node's API every ${POLL_MS} ms`,
  );
  log(row(
    [
      "N",
      "DHT",
      "ready s",
      "members",
      "RSS med",
      "RSS max",
      "idle CPU",
      "write CPU",
      "write ms",
      "runs ms",
      "formed ms",
      "runs ms",
      "formed RSS",
    ],
    WIDTHS,
  ));
  const rows: ScaleRow[] = [];
  const configs = opts.dht.flatMap((dht) => opts.sizes.map((n) => ({ n, dht })));
  for (const { n, dht } of configs) {
    const label = dht ? "on" : "off";
    const started: Child[] = [];
    try {
      const r = await runSize(n, dht, opts, started).catch((err) => {
        log(`scale: N=${n} DHT ${label} failed: ${String(err)}`);
        return undefined;
      });
      if (r === undefined) continue;
      rows.push(r);
      log(row([
        String(n),
        label,
        `${fmt(r.readyMs / 1000, 1)}${r.ready ? "" : "!"}`,
        `${r.membersMin}/${fmt(r.membersMedian, 0)}`,
        fmt(r.rssMedianMiB),
        fmt(r.rssMaxMiB),
        `${fmt(r.cpuMedian * 100, 1)}%`,
        `${fmt(r.writeCpuMedian * 100, 0)}%`,
        fmt(r.writeMedianMs, 0),
        r.writesMs.map((x) => fmt(x, 0)).join(","),
        r.formedWritesMs.length === 0 ? "-" : fmt(r.formedWriteMedianMs, 0),
        r.formedWritesMs.map((x) => fmt(x, 0)).join(","),
        Number.isNaN(r.formedRssMedianMiB) ? "-" : fmt(r.formedRssMedianMiB),
      ], WIDTHS));
    } finally {
      await Promise.all(started.map((c) => c.stop().catch(() => {})));
    }
  }
  log(
    "scale: members = min/median each node sees (DHT off: a star, leaves see the seed); " +
      "CPU = share of one core per node (median); '!' = not every node saw its members in time; " +
      `formed = the writes (and RSS) again ${opts.settleMs / 1000} s later (DHT on)`,
  );
  return { options: opts, rows };
}
