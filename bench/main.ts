/**
 * `deno task bench [--quick] [--repeat N] [--proxy auto|haproxy|nginx|deno] [--out FILE] [PART…]`
 *
 * Benchmarks the p2p tunnel, the federated balancer and the ledger against baselines set up
 * in the same run (direct loopback, a plain TCP proxy), and prints human-readable tables,
 * then a last line of `key=value` pairs. Full results go to `bench/output/latest.json`.
 * PART is any of `tunnel`, `federated`, `ledger` (default: all). Loopback only; every node
 * runs without mDNS and with an explicit bootstrap list; every loop is bounded; every
 * process it starts is stopped before it exits. `--repeat N` runs the parts N times, one after
 * the other, and judges the goals on the medians of the N runs' figures.
 *
 * @module
 */
import { installDenoShims } from "../src/node/deno_shims.ts";
installDenoShims();
import {
  FEDERATED_FULL,
  FEDERATED_QUICK,
  type FederatedResult,
  runFederatedBench,
} from "./federated.ts";
import { LEDGER_FULL, LEDGER_QUICK, type LedgerResult, runLedgerBench } from "./ledger.ts";
import { loadAvg, stopAllChildren } from "./lib/proc.ts";
import { chooseProxy, otherProxies } from "./lib/proxy.ts";
import { round } from "./lib/stats.ts";
import {
  goalLines,
  lifecycleSummary,
  medianSummary,
  natSummary,
  pairedConnRatio,
  scaleSummary,
  sshSummary,
} from "./goals.ts";
import { runScaleBench, SCALE_FULL, SCALE_QUICK, type ScaleResult } from "./scale.ts";
import {
  LIFECYCLE_FULL,
  LIFECYCLE_QUICK,
  type LifecycleResult,
  runLifecycleBench,
} from "./lifecycle.ts";
import { runTunnelBench, TUNNEL_FULL, TUNNEL_QUICK, type TunnelResult } from "./tunnel.ts";
import { NAT_FULL, NAT_QUICK, type NatBenchResult, runNatBench } from "./nat.ts";
import { bundle } from "../scripts/bundle.ts";
import {
  type BenchArgs,
  BenchUsageError,
  type Entry,
  parseBenchArgs,
  type Part,
  USAGE,
} from "./args.ts";

/** Hard bound of one run of the parts: past it (times `--repeat`), everything is stopped. */
const WATCHDOG_FULL_MS = 30 * 60_000;
const WATCHDOG_QUICK_MS = 4 * 60_000;

type Summary = Record<string, number | string>;

function ratio(a: number | undefined, b: number | undefined): number {
  return a !== undefined && b !== undefined && b > 0 ? a / b : NaN;
}

function summarize(
  proxyKind: string,
  tunnel: TunnelResult | undefined,
  federated: FederatedResult | undefined,
  ledger: LedgerResult | undefined,
  nat?: NatBenchResult,
  lifecycle?: LifecycleResult,
  scale?: ScaleResult,
): Summary {
  const t = tunnel?.paths;
  const f = federated?.paths;
  const ledgerMs = (n: number): number => ledger?.sizes.find((s) => s.n === n)?.medianMs ?? NaN;
  const s: Summary = {
    "tunnel_bulk_mbps": t?.tunnel.bulkMiBs ?? NaN,
    "proxy_bulk_mbps": t?.proxy.bulkMiBs ?? NaN,
    "direct_bulk_mbps": t?.direct.bulkMiBs ?? NaN,
    "tunnel_bulk_ratio": ratio(t?.tunnel.bulkMiBs, t?.proxy.bulkMiBs),
    "tunnel_up_mbps": t?.tunnel.upload.medianMiBs ?? NaN,
    "tunnel_down_mbps": t?.tunnel.download.medianMiBs ?? NaN,
    "tunnel_rtt_p50_ms": t?.tunnel.rtt.p50Ms ?? NaN,
    "tunnel_rtt_p99_ms": t?.tunnel.rtt.p99Ms ?? NaN,
    "tunnel_rtt_p99_cold_ms": t?.tunnel.rttCold.p99Ms ?? NaN,
    "proxy_rtt_p50_ms": t?.proxy.rtt.p50Ms ?? NaN,
    "direct_rtt_p50_ms": t?.direct.rtt.p50Ms ?? NaN,
    "tunnel_rtt_ratio": ratio(t?.tunnel.rtt.p50Ms, t?.proxy.rtt.p50Ms),
    "relay_bulk_mbps": t?.relay.bulkMiBs ?? NaN,
    "relay_rtt_p50_ms": t?.relay.rtt.p50Ms ?? NaN,
    "floor_bulk_ratio": ratio(t?.relay.bulkMiBs, t?.proxy.bulkMiBs),
    "floor_rtt_ratio": ratio(t?.relay.rtt.p50Ms, t?.proxy.rtt.p50Ms),
    "chacha_seal_ms_per_mib": tunnel?.floors.cipher.sealMsPerMiB ?? NaN,
    "crypto_bound_mbps": tunnel?.floors.cryptoBoundMiBs.mean ?? NaN,
    "crypto_bound_ratio": ratio(tunnel?.floors.cryptoBoundMiBs.mean, t?.proxy.bulkMiBs),
    "tunnel_conn_per_s": t?.tunnel.conn.perS ?? NaN,
    "proxy_conn_per_s": t?.proxy.conn.perS ?? NaN,
    "tunnel_conn_errors": t?.tunnel.conn.errors ?? NaN,
    "tunnel_cpu_ms_per_mib": t
      ? Math.max(
        ...(["upload", "download"] as const).flatMap((d) => [
          t.tunnel[d].cpuMsPerMiB.expose ?? NaN,
          t.tunnel[d].cpuMsPerMiB.connect ?? NaN,
        ]),
      )
      : NaN,
    "tunnel_up_limit": t?.tunnel.upload.limit ?? "na",
    "tunnel_down_limit": t?.tunnel.download.limit ?? "na",
    "proxy_up_limit": t?.proxy.upload.limit ?? "na",
    "tunnel_conn_limit": t?.tunnel.connCpu.limit ?? "na",
    "idle_rss_mib": tunnel ? Math.max(tunnel.rss.idleMiB.expose, tunnel.rss.idleMiB.connect) : NaN,
    "deno_empty_rss_mib": tunnel?.floors.rss.emptyMiB ?? NaN,
    "modules_rss_mib": tunnel?.floors.rss.importsMiB ?? NaN,
    "bulk_rss_mib": tunnel
      ? Math.max(tunnel.rss.bulkMaxMiB.expose, tunnel.rss.bulkMaxMiB.connect)
      : NaN,
    "federated_conn_per_s": f?.federated.loaded.perS ?? NaN,
    "proxy_rr_conn_per_s": f?.proxy.loaded.perS ?? NaN,
    "direct_http_conn_per_s": f?.direct.loaded.perS ?? NaN,
    "federated_conn_ratio": pairedConnRatio(f?.federated, f?.proxy),
    "relay_rr_conn_per_s": f?.relay.loaded.perS ?? NaN,
    "floor_conn_ratio": pairedConnRatio(f?.relay, f?.proxy),
    "federated_fb_p50_ms": f?.federated.sequential.firstByteP50Ms ?? NaN,
    "federated_fb_p99_ms": f?.federated.sequential.firstByteP99Ms ?? NaN,
    "proxy_rr_fb_p50_ms": f?.proxy.sequential.firstByteP50Ms ?? NaN,
    "proxy_rr_fb_p99_ms": f?.proxy.sequential.firstByteP99Ms ?? NaN,
    "direct_fb_p50_ms": f?.direct.sequential.firstByteP50Ms ?? NaN,
    "federated_limit": f?.federated.limit ?? "na",
    "federated_errors": federated?.federatedErrors ?? NaN,
    "ledger_5_ms": ledgerMs(5),
    "ledger_20_ms": ledgerMs(20),
    "ledger_50_ms": ledgerMs(50),
    "ledger_max_lag_ms": ledger ? Math.max(...ledger.sizes.map((x) => x.maxLoopLagMs)) : NaN,
    "ledger_incomplete": ledger
      ? ledger.sizes.filter((x) => !x.readiness.complete || !Number.isFinite(x.medianMs)).length
      : NaN,
    "node_idle_rss_mib": ledger?.nodeIdleRssMiB ?? NaN,
    ...natSummary(nat),
    ...sshSummary(tunnel),
    ...lifecycleSummary(lifecycle),
    ...scaleSummary(scale),
    "proxy_kind": proxyKind,
  };
  return s;
}

function keyValueLine(s: Summary): string {
  return Object.entries(s).map(([k, v]) =>
    `${k}=${typeof v === "number" ? (Number.isFinite(v) ? String(round(v, 3)) : "na") : v}`
  ).join(" ");
}

/** Where the bench writes the bundle (ignored by git); rebuilt by every run. */
const BUNDLE_DIR = new URL("./output/bundle", import.meta.url).pathname;

/**
 * Points `P2P_ENTRY` at what the `p2p` processes run (unless the caller set it): the bundle,
 * built now, or the sources. Returns which, and a line for the log.
 */
async function chooseEntry(entry: Entry): Promise<{ kind: Entry | "P2P_ENTRY"; note: string }> {
  const given = Deno.env.get("P2P_ENTRY");
  if (given !== undefined && given !== "") return { kind: "P2P_ENTRY", note: given };
  if (entry === "source") {
    return { kind: entry, note: "main.ts (the sources; --entry bundle runs the release build)" };
  }
  Deno.env.set("P2P_ENTRY", await bundle(BUNDLE_DIR));
  return {
    kind: entry,
    note: "the bundle of the release build (deno task bundle; --entry source runs main.ts)",
  };
}

async function main(args: BenchArgs): Promise<number> {
  const entry = await chooseEntry(args.entry);
  if (args.repeat === 1) {
    const run = await runParts(args, entry);
    await writeResult(args.out, run.result);
    return run.code;
  }
  const runs: PartsRun[] = [];
  for (let i = 1; i <= args.repeat; i++) {
    console.log(`${i > 1 ? "\n" : ""}=== run ${i} of ${args.repeat} ===`);
    runs.push(await runParts(args, entry));
  }
  const summaries = runs.map((r) => r.summary);
  const summary = medianSummary(summaries);
  await writeResult(args.out, { summary, runs: runs.map((r) => r.result) });
  console.log("");
  console.log(
    `=== over ${args.repeat} runs: the goals judged on the medians; results in ${args.out}`,
  );
  for (const line of goalLines(summary, summaries)) console.log(line);
  console.log(keyValueLine(summary));
  return runs.every((r) => r.code === 0) ? 0 : 1;
}

/** One run of the parts: its exit code, its summary and everything it measured. */
interface PartsRun {
  code: number;
  summary: Summary;
  result: Record<string, unknown>;
}

async function writeResult(out: string, result: unknown): Promise<void> {
  const outDir = out.slice(0, out.lastIndexOf("/"));
  if (outDir) await Deno.mkdir(outDir, { recursive: true });
  await Deno.writeTextFile(
    out,
    `${
      JSON.stringify(
        result,
        (_k, v) => (typeof v === "number" && !Number.isFinite(v) ? null : v),
        2,
      )
    }\n`,
  );
}

async function runParts(
  args: BenchArgs,
  entry: { kind: Entry | "P2P_ENTRY"; note: string },
): Promise<PartsRun> {
  const log = (line: string): void => console.log(line);
  const t0 = performance.now();
  const loadStart = loadAvg();
  const choice = await chooseProxy(args.proxy);
  log(
    `p2p bench${args.quick ? " --quick" : ""}: ${args.parts.join(", ")}; ` +
      `${navigator.hardwareConcurrency} cores; load average ${loadStart}; Deno ${Deno.version.deno}`,
  );
  log(`plain proxy: ${choice.kind} (${choice.note})`);
  log(`p2p processes run ${entry.note}`);
  if (choice.kind === "deno") log(`NOTE: ${choice.note}`);
  log("units: MiB/s (the *_mbps keys are MiB/s), ms; conn/s = new connections per second");

  const failures: string[] = [];
  const part = async <T>(name: Part, run: () => Promise<T>): Promise<T | undefined> => {
    if (!args.parts.includes(name)) return undefined;
    log("");
    log(`== ${name} (load average ${loadAvg()}) ==`);
    try {
      return await run();
    } catch (err) {
      failures.push(`${name}: ${err instanceof Error ? err.message : String(err)}`);
      log(`${name} FAILED: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
      await stopAllChildren();
      return undefined;
    }
  };
  const tunnel = await part(
    "tunnel",
    async () =>
      runTunnelBench(
        args.quick ? TUNNEL_QUICK : TUNNEL_FULL,
        choice,
        log,
        await otherProxies(choice, args.proxy),
      ),
  );
  const federated = await part(
    "federated",
    () => runFederatedBench(args.quick ? FEDERATED_QUICK : FEDERATED_FULL, choice, log),
  );
  const ledger = await part(
    "ledger",
    () =>
      runLedgerBench({
        ...(args.quick ? LEDGER_QUICK : LEDGER_FULL),
        noIpColocationPenalty: args.noIpColocation,
        dht: args.ledgerDht,
      }, log),
  );

  const nat = await part("nat", () => runNatBench(args.quick ? NAT_QUICK : NAT_FULL, log));
  const lifecycle = await part(
    "lifecycle",
    () => runLifecycleBench(args.quick ? LIFECYCLE_QUICK : LIFECYCLE_FULL, log),
  );

  const scale = await part(
    "scale",
    () => runScaleBench(args.quick ? SCALE_QUICK : SCALE_FULL, log),
  );

  const summary = {
    ...summarize(choice.kind, tunnel, federated, ledger, nat, lifecycle, scale),
    "entry": entry.kind,
  };
  const loadEnd = loadAvg();
  const elapsedS = (performance.now() - t0) / 1000;
  const result = {
    meta: {
      date: new Date().toISOString(),
      quick: args.quick,
      parts: args.parts,
      cores: navigator.hardwareConcurrency,
      deno: Deno.version.deno,
      loadAverageStart: loadStart,
      loadAverageEnd: loadEnd,
      elapsedS,
      proxy: choice,
      entry: entry.note,
      failures,
    },
    summary,
    tunnel,
    federated,
    ledger,
    nat,
    lifecycle,
    scale,
  };
  log("");
  log(
    `done in ${elapsedS.toFixed(1)} s; load average ${loadEnd}` +
      (args.repeat === 1 ? `; results in ${args.out}` : ""),
  );
  for (const f of failures) log(`FAILED ${f}`);
  for (const line of goalLines(summary)) log(line);
  log(keyValueLine(summary));
  return { code: failures.length === 0 ? 0 : 1, summary, result };
}

if (import.meta.main) {
  let args: BenchArgs | "help";
  try {
    args = parseBenchArgs(Deno.args, new URL("./output/latest.json", import.meta.url).pathname);
  } catch (err) {
    if (!(err instanceof BenchUsageError)) throw err;
    console.error(`bench: ${err.message}\n${USAGE}`);
    Deno.exit(2);
  }
  if (args === "help") {
    console.log(USAGE);
    Deno.exit(0);
  }
  const watchdogMs = (args.quick ? WATCHDOG_QUICK_MS : WATCHDOG_FULL_MS) * args.repeat;
  const watchdog = setTimeout(async () => {
    console.error(
      `bench: watchdog: still running after ${watchdogMs / 60_000} min; stopping everything`,
    );
    await stopAllChildren();
    Deno.exit(2);
  }, watchdogMs);
  const onSignal = async (): Promise<void> => {
    console.error("bench: interrupted; stopping every process it started");
    await stopAllChildren();
    Deno.exit(130);
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  let code = 1;
  try {
    code = await main(args);
  } catch (err) {
    console.error(err instanceof Error ? err.message : String(err));
  } finally {
    await stopAllChildren();
    clearTimeout(watchdog);
  }
  // Stopped libp2p nodes can leave unref'd handles; exit explicitly.
  Deno.exit(code);
}
