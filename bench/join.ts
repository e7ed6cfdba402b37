/**
 * What a join costs a network that holds a large ledger (part of `lifecycle`): `nodes`
 * separate `p2p node` processes (DHT off, a star around the first) hold `keys` keys; a newcomer
 * joins, `runs` times (each newcomer is stopped before the next). Per join: the ms from the
 * newcomer's spawn until its API lists every key, the CPU the old nodes spent in the window
 * after the spawn, and the blocks they published and delivered to single peers (`/metrics`).
 *
 * Loopback only; every wait bounded; every process stopped by the caller's `started` list.
 */
import { HEALTHCHECK_INTERVAL_MS } from "../src/ledger/constants.ts";
import { generateToken } from "../src/token/token.ts";
import { type Child, cpuSeconds, sleep } from "./lib/proc.ts";
import { loopbackFlags, type P2PChild, spawnP2P } from "./lib/spawn.ts";
import { median } from "./lib/stats.ts";

/** Sizes of the join measurement. */
export interface JoinOptions {
  /** Old nodes. */
  nodes: number;
  /** Keys in the ledger before the joins. */
  keys: number;
  /** Joins measured. */
  runs: number;
  /** The window after a newcomer's spawn in which CPU and blocks are counted, ms. */
  windowMs: number;
}

/** What the join measurement found (medians over the runs). */
export interface JoinResult {
  options: JoinOptions;
  /** From the newcomer's spawn until it holds every key, ms (NaN: not within the window). */
  joinMs: number[];
  /** CPU of the old nodes in the window, ms, all of them together. */
  cpuMs: number[];
  /** Blocks the old nodes published in the window. */
  published: number[];
  /** Blocks the old nodes delivered to single peers in the window. */
  delivered: number[];
}

const BUCKET = "join";
const WRITE_BATCH = 100;
const POLL_MS = 50;
const BOUND_MS = 90_000;
/** After the writes: the periodic rebroadcasts and heap trimmers of the old nodes settle. */
const SETTLE_MS = 12_000;
/**
 * How long a heartbeat round of the old nodes lasts beyond the spread of their starts: every
 * node writes its heartbeat at its start and every 30 s after, so nodes started together
 * write together, and with a large ledger each round is a burst of blocks (merge losers
 * written back) and seconds of CPU across the network. A join window that met one counted it
 * as the join's (before: the third join of each run, 15–28 blocks against 2–11 for the others).
 */
const HEARTBEAT_ROUND_MS = 4_000;

/**
 * Milliseconds to wait from `now` until a window of `windowMs` fits between two heartbeat
 * rounds of nodes started between `firstStart` and `lastStart` (see `HEARTBEAT_ROUND_MS`).
 *
 * @param now The clock, ms.
 * @param firstStart When the first old node started, ms on the same clock.
 * @param lastStart When the last one started.
 * @param windowMs The window to fit.
 * @returns The wait, ms (0 when a window starting now fits).
 */
export function waitForQuietWindow(
  now: number,
  firstStart: number,
  lastStart: number,
  windowMs: number,
): number {
  const quietFrom = lastStart - firstStart + HEARTBEAT_ROUND_MS;
  const quietUntil = HEALTHCHECK_INTERVAL_MS - windowMs;
  if (quietUntil < quietFrom) {
    throw new Error(`a ${windowMs} ms window does not fit between two heartbeat rounds`);
  }
  const phase = (now - firstStart) % HEALTHCHECK_INTERVAL_MS;
  if (phase >= quietFrom && phase <= quietUntil) return 0;
  return (quietFrom - phase + HEALTHCHECK_INTERVAL_MS) % HEALTHCHECK_INTERVAL_MS;
}

async function api(p: P2PChild, path: string, init?: RequestInit): Promise<Response> {
  return await fetch(`${p.start.api}${path}`, { ...init, signal: AbortSignal.timeout(5_000) });
}

async function keysHeld(p: P2PChild): Promise<number> {
  try {
    const response = await api(p, `/api/ledger/${BUCKET}`);
    return response.ok ? Object.keys(await response.json() as object).length : 0;
  } catch {
    return 0;
  }
}

async function counter(nodes: P2PChild[], name: string): Promise<number> {
  const values = await Promise.all(nodes.map(async (p) => {
    const text = await (await api(p, "/metrics")).text();
    return Number(new RegExp(`^${name} (\\S+)`, "m").exec(text)?.[1] ?? NaN);
  }));
  return values.reduce((a, b) => a + b, 0);
}

async function until(check: () => Promise<boolean>, boundMs: number): Promise<boolean> {
  const deadline = performance.now() + boundMs;
  while (performance.now() < deadline) {
    if (await check()) return true;
    await sleep(POLL_MS * 5);
  }
  return false;
}

/**
 * Measures `opts.runs` joins into a network holding `opts.keys` keys.
 *
 * @param opts The sizes.
 * @param started Every process started is added here, for the caller to stop.
 */
export async function measureJoin(opts: JoinOptions, started: Child[]): Promise<JoinResult> {
  const token = generateToken();
  const flags = (bootstrap: string[]) => [
    ...loopbackFlags(token, bootstrap),
    "--no-dht",
    "--api-listen",
    "127.0.0.1:0",
  ];
  const spawn = async (name: string, bootstrap: string[]): Promise<P2PChild> => {
    const p2p = await spawnP2P(name, ["node", ...flags(bootstrap)], { timeoutMs: 60_000 });
    started.push(p2p.child);
    return p2p;
  };
  const seed = await spawn("join-0", []);
  const firstStart = performance.now();
  const nodes = [seed];
  for (let i = 1; i < opts.nodes; i++) nodes.push(await spawn(`join-${i}`, [seed.addr]));
  const lastStart = performance.now();
  // Every old node knows every other (the seed introduces them), as in a formed network.
  const members = async (p: P2PChild) => {
    try {
      return ((await (await api(p, "/api/node")).json()) as { members?: number }).members ?? 0;
    } catch {
      return 0;
    }
  };
  const formed = async () =>
    (await Promise.all(nodes.map(members))).every((n) => n >= opts.nodes - 1);
  if (!await until(formed, BOUND_MS)) throw new Error("the old nodes did not all meet");
  for (let first = 0; first < opts.keys; first += WRITE_BATCH) {
    const batch = Array.from({ length: Math.min(WRITE_BATCH, opts.keys - first) }, (_, i) => {
      const key = `key-${first + i}`;
      return api(seed, `/api/ledger/${BUCKET}/${key}`, {
        method: "PUT",
        body: JSON.stringify(`${key} ${crypto.randomUUID()}`),
      }).then((r) => r.body?.cancel());
    });
    await Promise.all(batch);
  }
  const held = async () => (await Promise.all(nodes.map(keysHeld))).every((n) => n >= opts.keys);
  if (!await until(held, BOUND_MS)) throw new Error("the old nodes did not all hold the keys");
  const result: JoinResult = { options: opts, joinMs: [], cpuMs: [], published: [], delivered: [] };
  for (let run = 0; run < opts.runs; run++) {
    await sleep(SETTLE_MS);
    await sleep(waitForQuietWindow(performance.now(), firstStart, lastStart, opts.windowMs));
    const published = await counter(nodes, "p2p_ledger_blocks_published_total");
    const delivered = await counter(nodes, "p2p_ledger_blocks_sent_direct_total");
    const cpu = nodes.map((p) => cpuSeconds(p.child.pid));
    const t0 = performance.now();
    const newcomer = await spawn(`join-new-${run}`, [seed.addr]);
    let joinMs = NaN;
    while (performance.now() - t0 < opts.windowMs) {
      if (await keysHeld(newcomer) >= opts.keys) {
        joinMs = performance.now() - t0;
        break;
      }
      await sleep(POLL_MS);
    }
    await sleep(Math.max(0, opts.windowMs - (performance.now() - t0)));
    result.cpuMs.push(
      nodes.reduce((sum, p, i) => sum + cpuSeconds(p.child.pid) - cpu[i]!, 0) * 1000,
    );
    result.published.push(await counter(nodes, "p2p_ledger_blocks_published_total") - published);
    result.delivered.push(await counter(nodes, "p2p_ledger_blocks_sent_direct_total") - delivered);
    result.joinMs.push(joinMs);
    await newcomer.child.stop();
  }
  return result;
}

/** One line for the log. */
export function joinLine(r: JoinResult): string {
  const list = (xs: number[]) => xs.map((x) => Math.round(x)).join(", ");
  return `join into ${r.options.nodes} nodes holding ${r.options.keys} keys: the newcomer holds ` +
    `them after ${Math.round(median(r.joinMs))} ms (runs ${list(r.joinMs)}); the old nodes spent ` +
    `${Math.round(median(r.cpuMs))} ms of CPU in ${r.options.windowMs / 1000} s (${
      list(r.cpuMs)
    }), ` +
    `published ${list(r.published)} blocks, delivered ${list(r.delivered)} to single peers`;
}
