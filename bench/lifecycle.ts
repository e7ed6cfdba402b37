/**
 * Lifecycle bench (issue 18): how long things take that the tests only assert by mechanism.
 *
 * - **failover**: a `p2p worker` process is stopped (SIGTERM), killed (SIGKILL) or frozen
 *   (SIGSTOP); the time until it leaves the pool view of an observing node in the bench
 *   process (its `worker:offline` event), median of several runs per signal.
 * - **stop**: `Network.stop()` of an idle node with one connected peer, median of several.
 * - **put**: `ledger.put` in a ledger of 3,000 keys, one at a time (each awaited) and a burst of
 *   puts made in one tick (which share one block), per put.
 * - **join**: a newcomer joins `p2p node` processes holding 3,000 keys (`join.ts`).
 *
 * Loopback only, mDNS off, explicit bootstrap lists; every wait bounded; every process stopped.
 */
import { POOL_VIEWS } from "../src/services/pool_views.ts";
import { FEDERATED_POOL } from "../src/services/constants.ts";
import { startNetwork } from "../src/network/network.ts";
import type { Network } from "../src/network/network.ts";
import { generateToken } from "../src/token/token.ts";
import { joinLine, type JoinOptions, type JoinResult, measureJoin } from "./join.ts";
import type { Child } from "./lib/proc.ts";
import { loopbackFlags, spawnP2P } from "./lib/spawn.ts";
import { fmt, median } from "./lib/stats.ts";

/** Sizes of the lifecycle bench. */
export interface LifecycleOptions {
  /** Runs per signal of the failover phase. */
  failoverRuns: number;
  /** Bound on one worker's leaving the view, ms. */
  failoverTimeoutMs: number;
  stopRuns: number;
  putKeys: number;
  putRuns: number;
  burst: number;
  join: JoinOptions;
}

/** Full-size settings. */
export const LIFECYCLE_FULL: LifecycleOptions = {
  failoverRuns: 3,
  failoverTimeoutMs: 60_000,
  stopRuns: 7,
  putKeys: 3000,
  putRuns: 20,
  burst: 50,
  join: { nodes: 10, keys: 3000, runs: 3, windowMs: 8_000 },
};

/** `--quick` settings. */
export const LIFECYCLE_QUICK: LifecycleOptions = {
  failoverRuns: 1,
  failoverTimeoutMs: 30_000,
  stopRuns: 3,
  putKeys: 300,
  putRuns: 5,
  burst: 10,
  join: { nodes: 4, keys: 300, runs: 1, windowMs: 5_000 },
};

const SIGNALS = ["SIGTERM", "SIGKILL", "SIGSTOP"] as const;
type Signal = typeof SIGNALS[number];

/** What the lifecycle bench measured. */
export interface LifecycleResult {
  options: LifecycleOptions;
  /** Per signal: ms from the signal to `worker:offline`, each run, the median and the reasons. */
  failover: Record<Signal, { runsMs: number[]; medianMs: number; reasons: string[] }>;
  /** `Network.stop()` of an idle node, ms. */
  stop: { runsMs: number[]; medianMs: number };
  /** `ledger.put` with `putKeys` keys: awaited one at a time, and per put of a burst. */
  put: { keys: number; sequentialMedianMs: number; burstPerPutMs: number; burst: number };
  /** A newcomer joining nodes that hold a large ledger. */
  join: JoinResult;
}

const nodeOptions = (token: string, bootstrap: string[]) => ({
  token,
  listen: ["/ip4/127.0.0.1/tcp/0"],
  bootstrapPeers: bootstrap,
  mdns: false,
  dht: false,
});

function waitEvent<T>(
  network: Network,
  type: "worker:online" | "worker:offline",
  match: (detail: T) => boolean,
  timeoutMs: number,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      network.removeEventListener(type, on as never);
      reject(new Error(`no ${type} within ${timeoutMs} ms`));
    }, timeoutMs);
    const on = (event: CustomEvent<T>): void => {
      if (!match(event.detail)) return;
      clearTimeout(timer);
      network.removeEventListener(type, on as never);
      resolve(event.detail);
    };
    network.addEventListener(type, on as never);
  });
}

async function failoverRun(
  observer: Network,
  token: string,
  target: number,
  signal: Signal,
  run: number,
  timeoutMs: number,
): Promise<{ ms: number; reason: string }> {
  const name = `bench-${signal.toLowerCase()}-${run}`;
  const online = waitEvent<{ worker: string }>(
    observer,
    "worker:online",
    (d) => d.worker === name,
    timeoutMs,
  );
  const worker = await spawnP2P(name, [
    "worker",
    "--target",
    `127.0.0.1:${target}`,
    "--pool",
    FEDERATED_POOL,
    "--name",
    name,
    ...loopbackFlags(token, observer.node.getMultiaddrs().map(String)),
  ]);
  try {
    await online;
    const offline = waitEvent<{ worker: string; reason: string }>(
      observer,
      "worker:offline",
      (d) => d.worker === name,
      timeoutMs,
    );
    const t0 = performance.now();
    worker.child.process.kill(signal);
    const detail = await offline;
    return { ms: performance.now() - t0, reason: detail.reason };
  } finally {
    if (signal === "SIGSTOP") {
      try {
        worker.child.process.kill("SIGCONT");
      } catch {
        // gone
      }
    }
    await worker.child.stop(3_000);
  }
}

async function measureStop(opts: LifecycleOptions): Promise<number[]> {
  const runs: number[] = [];
  for (let i = 0; i < opts.stopRuns; i++) {
    const token = generateToken();
    const seed = await startNetwork(nodeOptions(token, []));
    const node = await startNetwork(nodeOptions(token, seed.node.getMultiaddrs().map(String)));
    try {
      await waitFor(() => node.node.getConnections().length > 0, 10_000, "the peer connection");
      await new Promise((r) => setTimeout(r, 300)); // idle: past the first exchanges
      const t0 = performance.now();
      await node.stop();
      runs.push(performance.now() - t0);
    } finally {
      await node.stop().catch(() => {});
      await seed.stop().catch(() => {});
    }
  }
  return runs;
}

async function waitFor(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function measurePut(opts: LifecycleOptions): Promise<LifecycleResult["put"]> {
  const token = generateToken();
  const a = await startNetwork(nodeOptions(token, []));
  const b = await startNetwork(nodeOptions(token, a.node.getMultiaddrs().map(String)));
  try {
    await waitFor(() => a.node.getConnections().length > 0, 10_000, "the peer connection");
    const fill = Array.from(
      { length: opts.putKeys },
      (_, i) => a.ledger.put("bench", `k${i}`, { i, pad: "x".repeat(40) }),
    );
    await Promise.all(fill);
    await waitFor(() => b.ledger.has("bench", `k${opts.putKeys - 1}`), 20_000, "the filled ledger");
    const sequential: number[] = [];
    for (let i = 0; i < opts.putRuns; i++) {
      const t0 = performance.now();
      await a.ledger.put("bench", `seq${i}`, { i });
      sequential.push(performance.now() - t0);
    }
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: opts.burst }, (_, i) => a.ledger.put("bench", `burst${i}`, i)),
    );
    const burstMs = performance.now() - t0;
    return {
      keys: opts.putKeys,
      sequentialMedianMs: median(sequential),
      burstPerPutMs: burstMs / opts.burst,
      burst: opts.burst,
    };
  } finally {
    await b.stop();
    await a.stop();
  }
}

/** Runs the lifecycle bench; every node and process it starts is stopped before it returns. */
export async function runLifecycleBench(
  opts: LifecycleOptions,
  log: (line: string) => void,
): Promise<LifecycleResult> {
  const stopRuns = await measureStop(opts);
  log(
    `Network.stop() of an idle node with one peer: median ${fmt(median(stopRuns), 1)} ms ` +
      `(runs ${stopRuns.map((x) => fmt(x, 1)).join(", ")})`,
  );
  const put = await measurePut(opts);
  log(
    `ledger.put with ${put.keys} keys: ${fmt(put.sequentialMedianMs, 2)} ms each awaited ` +
      `(median of ${opts.putRuns}); ${
        fmt(put.burstPerPutMs, 2)
      } ms per put in a burst of ${put.burst}`,
  );

  const started: Child[] = [];
  let join: JoinResult;
  try {
    join = await measureJoin(opts.join, started);
  } finally {
    await Promise.all(started.map((child) => child.stop()));
  }
  log(joinLine(join));

  const token = generateToken();
  const observer = await startNetwork(nodeOptions(token, []));
  const target = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const failover = {} as LifecycleResult["failover"];
  try {
    observer.shared(POOL_VIEWS).get(FEDERATED_POOL);
    for (const signal of SIGNALS) {
      const runsMs: number[] = [];
      const reasons: string[] = [];
      for (let run = 0; run < opts.failoverRuns; run++) {
        const r = await failoverRun(
          observer,
          token,
          target.addr.port,
          signal,
          run,
          opts.failoverTimeoutMs,
        );
        runsMs.push(r.ms);
        reasons.push(r.reason);
      }
      failover[signal] = { runsMs, medianMs: median(runsMs), reasons };
      log(
        `failover: worker ${signal}: leaves the pool view in ${fmt(median(runsMs), 0)} ms ` +
          `median (runs ${runsMs.map((x) => fmt(x, 0)).join(", ")}; reason ${
            [...new Set(reasons)].join("/")
          })`,
      );
    }
  } finally {
    target.close();
    await observer.stop();
  }
  return {
    options: opts,
    failover,
    stop: { runsMs: stopRuns, medianMs: median(stopRuns) },
    put,
    join,
  };
}
