/**
 * Ledger bench (issue 3 §5): N nodes in ONE process (`startNetwork`, loopback, no mDNS, a
 * seed with no bootstrap peers, the rest bootstrapping to it). Once every node is connected
 * to the seed (and, within a bound, subscribed to the ledger topic), time from a
 * `ledger.put` on one node until `ledger.get` returns the value on all N. Also the idle RSS
 * of one `p2p node` process.
 *
 * All N nodes share one JS thread, so the event-loop lag is measured and printed with each
 * size: above a few hundred ms it, not the network, dominates the figure.
 */
import { installDenoShims } from "../src/node/deno_shims.ts";
installDenoShims();
import type { Network } from "../src/network/network.ts";
import { startNetwork } from "../src/network/network.ts";
import { generateToken, generateTokenConfig } from "../src/token/token.ts";
import { rssMiB, sleep } from "./lib/proc.ts";
import { withTimeout } from "./lib/net.ts";
import { loopbackFlags, spawnP2P } from "./lib/spawn.ts";
import { fmt, median, percentile, row } from "./lib/stats.ts";

/** Sizes and bounds of the ledger bench. */
export interface LedgerOptions {
  sizes: number[];
  runs: number;
  /** Seconds after start before the idle RSS of a `p2p node` process is read. */
  idleS: number;
  /**
   * What-if: disable gossipsub's IP-colocation score penalty on every node (a runtime
   * patch of the score parameters, bench only). By default the product config is measured.
   */
  noIpColocationPenalty: boolean;
  /**
   * Run the Kademlia DHT rendezvous on every node. Off by default: with it, every node finds
   * and dials every other (N² connections, each pinged every 10 s) and N nodes sharing one
   * JS thread measure the event loop rather than the ledger. The seed star is what the
   * bootstrap list builds; gossipsub's peer exchange adds links.
   */
  dht: boolean;
}

/** Full-size settings. */
export const LEDGER_FULL: LedgerOptions = {
  sizes: [5, 20, 50],
  runs: 3,
  idleS: 5,
  noIpColocationPenalty: false,
  dht: false,
};
/** `--quick` settings. */
export const LEDGER_QUICK: LedgerOptions = {
  sizes: [5],
  runs: 1,
  idleS: 2,
  noIpColocationPenalty: false,
  dht: false,
};

/** How far the network got before the puts. */
export interface LedgerReadiness {
  /** Non-seed nodes connected to the seed. */
  connectedToSeed: number;
  /** Non-seed nodes the seed knows as subscribed to the ledger topic. */
  seedSeesSubscribed: number;
  /** Non-seed nodes that know the seed as subscribed. */
  seeSeedSubscribed: number;
  /** Non-seed nodes the seed's gossipsub graylists (score below -80: their RPCs are ignored). */
  graylistedBySeed: number;
  /** Whether every count above reached N-1 (graylisted: 0) within the bound. */
  complete: boolean;
}

/** One network size. */
export interface LedgerSize {
  n: number;
  /** From the first start until every node was connected to the seed. */
  connectedMs: number;
  /** From the first start until the readiness check ended (complete or not). */
  readyMs: number;
  readiness: LedgerReadiness;
  /** Per run: until the last node had the value; NaN if some never did within the bound. */
  runsMs: number[];
  /** Median over the runs; NaN unless every run reached every node. */
  medianMs: number;
  runs: { nodeP50Ms: number; lastMs: number; reached: number }[];
  /** Mean libp2p connections per node when the runs started and when they ended. */
  meanConnections: { before: number; after: number };
  /** Worst event-loop lag of the (shared) process during the runs. */
  maxLoopLagMs: number;
  /** RSS of the bench process with N nodes running. */
  processRssMiB: number;
}

/** Everything the ledger bench measured. */
export interface LedgerResult {
  options: LedgerOptions;
  sizes: LedgerSize[];
  nodeIdleRssMiB: number;
}

const BUCKET = "bench";
const KEY = "probe";
/** Nodes started at once: libp2p accepts at most 10 inbound upgrades in flight per node. */
const START_BATCH = 5;
/** Bound on one batch connecting to the seed (the next batch starts anyway). */
const BATCH_TIMEOUT_MS = 10_000;
/** Bound on every node being connected to the seed, from the first start. */
const CONNECT_TIMEOUT_MS = 45_000;
/** Bound on the subscriptions settling, after that. */
const READY_TIMEOUT_MS = 20_000;
/** Bound on one put reaching every node. */
const RUN_TIMEOUT_MS = 10_000;
/** gossipsub's default graylist threshold. */
const GRAYLIST_THRESHOLD = -80;

interface ScoredPubsub {
  getScore(id: string): number;
  score?: { params?: { IPColocationFactorWeight?: number } };
}

function loopbackAddr(net: Network): string {
  const a = net.node.getMultiaddrs().map(String).find((x) => x.startsWith("/ip4/127.0.0.1/"));
  if (a === undefined) throw new Error("seed has no loopback address");
  return a.includes("/p2p/") ? a : `${a}/p2p/${net.peerId}`;
}

async function waitUntil(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
  return true;
}

function meanConnections(nets: Network[]): number {
  return nets.reduce((a, n) => a + n.node.getConnections().length, 0) / nets.length;
}

function readiness(seed: Network, others: Network[]): LedgerReadiness {
  const topic = seed.hub.topics[0];
  const pubsub = seed.node.services.pubsub;
  const subs = new Set(topic === undefined ? [] : pubsub.getSubscribers(topic).map(String));
  const connectedToSeed = others.filter((n) => n.isConnected(seed.peerId))
    .length;
  const seedSeesSubscribed = others.filter((n) => subs.has(n.peerId.toString())).length;
  const seeSeedSubscribed = others.filter((n) =>
    topic !== undefined &&
    n.node.services.pubsub.getSubscribers(topic).some((p) => p.equals(seed.peerId))
  ).length;
  const scored = pubsub as unknown as ScoredPubsub;
  const graylistedBySeed =
    others.filter((n) => scored.getScore(n.peerId.toString()) < GRAYLIST_THRESHOLD).length;
  const all = others.length;
  return {
    connectedToSeed,
    seedSeesSubscribed,
    seeSeedSubscribed,
    graylistedBySeed,
    complete: connectedToSeed === all && seedSeesSubscribed === all &&
      seeSeedSubscribed === all && graylistedBySeed === 0,
  };
}

/** Largest event-loop delay seen between `start` and the returned stop function. */
function lagProbe(): () => number {
  let max = 0;
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    max = Math.max(max, now - last - 50);
    last = now;
  }, 50);
  return () => {
    clearInterval(timer);
    return max;
  };
}

/** One put on `writer`, timed until every node reads the value (bounded). */
function timePut(nets: Network[], writer: Network, run: number): Promise<number[]> {
  const nonce = `${run}-${crypto.randomUUID()}`;
  // A key per run: a writer keeps its own entries announced, so writers of one key would
  // contest it (each writing its value back once a second) and a later run would time that.
  const key = `${KEY}-${run}`;
  const arrivals = new Array<number>(nets.length).fill(NaN);
  let left = nets.length;
  let t0 = 0;
  const cleanups: (() => void)[] = [];
  return new Promise<number[]>((resolve) => {
    const finish = (): void => {
      clearTimeout(timer);
      for (const c of cleanups) c();
      resolve(arrivals);
    };
    const timer = setTimeout(finish, RUN_TIMEOUT_MS);
    nets.forEach((net, i) => {
      const check = (): void => {
        if (!Number.isNaN(arrivals[i]!)) return;
        const v = net.ledger.get(BUCKET, key) as { nonce?: string } | undefined;
        if (v?.nonce !== nonce) return;
        arrivals[i] = performance.now() - t0;
        if (--left === 0) finish();
      };
      net.ledger.addEventListener("change", check);
      cleanups.push(() => net.ledger.removeEventListener("change", check));
    });
    t0 = performance.now();
    writer.ledger.put(BUCKET, key, { nonce }).catch(() => finish());
  });
}

async function start(
  base: Parameters<typeof startNetwork>[0],
  opts: LedgerOptions,
): Promise<Network> {
  const net = await startNetwork(base);
  if (opts.noIpColocationPenalty) {
    // Runs before the node's first (timer-driven) dial, so no peer is scored before.
    const params = (net.node.services.pubsub as unknown as ScoredPubsub).score?.params;
    if (params === undefined) throw new Error("cannot patch gossipsub score params");
    params.IPColocationFactorWeight = 0;
  }
  return net;
}

async function benchSize(
  n: number,
  opts: LedgerOptions,
  log: (line: string) => void,
): Promise<LedgerSize> {
  const token = generateTokenConfig();
  const nets: Network[] = [];
  const base = { token, listen: ["/ip4/127.0.0.1/tcp/0"], mdns: false, dht: opts.dht } as const;
  try {
    const t0 = performance.now();
    const seed = await start({ ...base, bootstrapPeers: [] }, opts);
    nets.push(seed);
    const seedAddr = loopbackAddr(seed);
    for (let started = 1; started < n; started += START_BATCH) {
      const batch = await Promise.all(
        Array.from(
          { length: Math.min(START_BATCH, n - started) },
          () => start({ ...base, bootstrapPeers: [seedAddr] }, opts),
        ),
      );
      nets.push(...batch);
      await waitUntil(
        () => batch.every((net) => net.isConnected(seed.peerId)),
        Math.min(BATCH_TIMEOUT_MS, Math.max(0, t0 + CONNECT_TIMEOUT_MS - performance.now())),
      );
    }
    const others = nets.slice(1);
    await waitUntil(
      () => others.every((net) => net.isConnected(seed.peerId)),
      Math.max(0, t0 + CONNECT_TIMEOUT_MS - performance.now()),
    );
    const connectedMs = performance.now() - t0;
    await waitUntil(() => readiness(seed, others).complete, READY_TIMEOUT_MS);
    const ready = readiness(seed, others);
    const readyMs = performance.now() - t0;
    if (!ready.complete) {
      log(
        `  N=${n}: not ready after ${fmt(readyMs / 1000)} s: ${JSON.stringify(ready)}; ` +
          `timing the puts anyway`,
      );
    }
    const before = meanConnections(nets);
    const stopLag = lagProbe();
    const runsMs: number[] = [];
    const details: LedgerSize["runs"] = [];
    for (let r = 0; r < opts.runs; r++) {
      // The writer is a leaf (not the seed), a different one each run.
      const writer = nets[1 + (r * 7) % (n - 1)]!;
      const arrivals = await timePut(nets, writer, r);
      const reached = arrivals.filter(Number.isFinite);
      const last = reached.length === n ? Math.max(...reached) : NaN;
      runsMs.push(last);
      details.push({
        nodeP50Ms: percentile(reached, 50),
        lastMs: last,
        reached: reached.length,
      });
      if (reached.length < n) {
        log(
          `  N=${n} run ${r + 1}: ${reached.length}/${n} nodes had the value after ` +
            `${RUN_TIMEOUT_MS / 1000} s`,
        );
      }
      await sleep(500);
    }
    const maxLoopLagMs = stopLag();
    const size: LedgerSize = {
      n,
      connectedMs,
      readyMs,
      readiness: ready,
      runsMs,
      medianMs: runsMs.every(Number.isFinite) ? median(runsMs) : NaN,
      runs: details,
      meanConnections: { before, after: meanConnections(nets) },
      maxLoopLagMs,
      processRssMiB: rssMiB(Deno.pid),
    };
    log(row([
      `N=${n}`,
      fmt(connectedMs / 1000, 1),
      `${fmt(readyMs / 1000, 1)}${ready.complete ? "" : "*"}`,
      fmt(size.medianMs, 1),
      details.map((d) => Number.isFinite(d.lastMs) ? fmt(d.lastMs, 0) : `${d.reached}/${n}`)
        .join(" "),
      fmt(median(details.map((d) => d.nodeP50Ms)), 1),
      `${fmt(before, 1)}→${fmt(size.meanConnections.after, 1)}`,
      fmt(maxLoopLagMs, 0),
      fmt(size.processRssMiB, 0),
    ], WIDTHS));
    return size;
  } finally {
    await withTimeout(
      Promise.all(nets.map((net) => net.stop().catch(() => {}))),
      30_000,
      `stopping ${nets.length} nodes`,
    ).catch((err) => log(`  ledger: ${String(err)}`));
  }
}

const WIDTHS = [6, 8, 8, 10, 20, 9, 12, 8, 8];

/** Idle RSS of one `p2p node` process `idleS` seconds after its start line. */
async function nodeIdleRss(idleS: number): Promise<number> {
  const node = await spawnP2P("node", ["node", ...loopbackFlags(generateToken(), [])]);
  try {
    await sleep(idleS * 1000);
    return rssMiB(node.child.pid);
  } finally {
    await node.child.stop();
  }
}

/** Runs the ledger bench; every node and process it starts is stopped before it returns. */
export async function runLedgerBench(
  opts: LedgerOptions,
  log: (line: string) => void,
): Promise<LedgerResult> {
  log(
    `${opts.sizes.join("/")} nodes in this process; DHT ${opts.dht ? "on" : "off (--ledger-dht)"}`,
  );
  if (opts.noIpColocationPenalty) {
    log("what-if: gossipsub IP-colocation penalty disabled on every node (bench-only patch)");
  }
  log(row(
    [
      "size",
      "conn s",
      "ready s",
      "median ms",
      "runs ms",
      "node p50",
      "conns/node",
      "lag ms",
      "RSS MiB",
    ],
    WIDTHS,
  ));
  const sizes: LedgerSize[] = [];
  for (const n of opts.sizes) sizes.push(await benchSize(n, opts, log));
  log(
    "(* = not every node connected, subscribed and accepted by the seed within " +
      `${READY_TIMEOUT_MS / 1000} s; lag = worst event-loop delay of the shared process)`,
  );
  const nodeIdleRssMiB = await nodeIdleRss(opts.idleS);
  log(`p2p node process idle RSS after ${opts.idleS} s: ${fmt(nodeIdleRssMiB)} MiB`);
  return { options: opts, sizes, nodeIdleRssMiB };
}
