/**
 * The targets of issue 18, checked against the figures of the same run. They live here, in
 * the bench, and never in tests: a figure depends on the machine and its load.
 */
import { median, pairedRatio } from "./lib/stats.ts";
import type { FederatedPath } from "./federated.ts";
import type { LifecycleResult } from "./lifecycle.ts";
import type { NatBenchResult } from "./nat.ts";
import type { ScaleResult } from "./scale.ts";
import type { PathResult, TunnelResult } from "./tunnel.ts";

/** One figure of the last line: a number (NaN when not measured) or a word. */
export type SummaryValue = number | string;

/** A target: the summary key it reads, the comparison and the bound. */
export interface Goal {
  /** The summary key holding the measured figure. */
  key: string;
  /** What a reader sees. */
  label: string;
  op: "<=" | ">=";
  bound: number;
}

/** Issue 18's goals, in the order the output lists them. */
export const GOALS: readonly Goal[] = [
  { key: "tunnel_up_ssh_ratio", label: "tunnel upload ÷ ssh -L", op: ">=", bound: 1.0 },
  { key: "tunnel_down_ssh_ratio", label: "tunnel download ÷ ssh -L", op: ">=", bound: 1.0 },
  { key: "tunnel_rtt_p50_ssh_ratio", label: "tunnel RTT p50 ÷ ssh -L", op: "<=", bound: 1.5 },
  { key: "tunnel_rtt_p99_ssh_ratio", label: "tunnel RTT p99 ÷ ssh -L", op: "<=", bound: 2.0 },
  { key: "tunnel_conn_ssh_ratio", label: "tunnel new conn/s ÷ ssh -L", op: ">=", bound: 0.6 },
  {
    key: "federated_conn_ratio",
    label: "balancer conn/s ÷ haproxy round-robin",
    op: ">=",
    bound: 0.5,
  },
  { key: "federated_errors", label: "balancer errors", op: "<=", bound: 0 },
  { key: "node_idle_rss_mib", label: "idle p2p node RSS, MiB", op: "<=", bound: 70 },
  {
    key: "scale_20_dht_rss_mib",
    label: "20 nodes, DHT on: RSS per node, MiB",
    op: "<=",
    bound: 100,
  },
  {
    key: "scale_40_ledger_ms",
    label: "40 processes, DHT off: write seen by all, ms",
    op: "<=",
    bound: 3000,
  },
  {
    key: "scale_20_dht_formed_ledger_ms",
    label: "20 processes, DHT on, formed network: write seen by all, ms",
    op: "<=",
    bound: 2000,
  },
  { key: "ledger_put_3000_ms", label: "ledger put with 3,000 keys, ms", op: "<=", bound: 5 },
  { key: "network_stop_ms", label: "Network.stop() of an idle node, ms", op: "<=", bound: 100 },
  {
    key: "nat_relayed_direct_ratio",
    label: "NAT lab: relayed tunnel bulk ÷ direct (UPnP-mapped)",
    op: ">=",
    bound: 0.5,
  },
];

function ratio(a: number | undefined, b: number | undefined): number {
  return a !== undefined && b !== undefined && b > 0 ? a / b : NaN;
}

/**
 * The `ssh -L` figures and the tunnel's ratios to them (NaN where ssh did not run). The warm
 * ratios are paired: the median of run `i`'s tunnel figure over run `i`'s ssh figure, the two
 * measured one after the other (`measurePaths` interleaves every path's runs).
 */
export function sshSummary(tunnel: TunnelResult | undefined): Record<string, SummaryValue> {
  const t = tunnel?.paths.tunnel;
  const s = tunnel?.paths.ssh;
  const nginx = tunnel?.proxies.nginx;
  const haproxy = tunnel?.proxies.haproxy;
  const paired = (of: (p: PathResult) => number[]): number =>
    t === undefined || s === undefined ? NaN : pairedRatio(of(t), of(s));
  return {
    "ssh_up_mbps": s?.upload.medianMiBs ?? NaN,
    "ssh_down_mbps": s?.download.medianMiBs ?? NaN,
    "ssh_rtt_p50_ms": s?.rtt.p50Ms ?? NaN,
    "ssh_rtt_p99_ms": s?.rtt.p99Ms ?? NaN,
    "ssh_rtt_p99_cold_ms": s?.rttCold.p99Ms ?? NaN,
    "ssh_conn_per_s": s?.conn.perS ?? NaN,
    "tunnel_up_ssh_ratio": paired((p) => p.upload.runsMiBs),
    "tunnel_down_ssh_ratio": paired((p) => p.download.runsMiBs),
    "tunnel_up_cold_ssh_ratio": ratio(t?.upload.coldMiBs, s?.upload.coldMiBs),
    "tunnel_down_cold_ssh_ratio": ratio(t?.download.coldMiBs, s?.download.coldMiBs),
    "tunnel_rtt_p50_ssh_ratio": paired((p) => p.rttRuns.map((r) => r.p50Ms)),
    "tunnel_rtt_p99_ssh_ratio": paired((p) => p.rttRuns.map((r) => r.p99Ms)),
    "tunnel_conn_ssh_ratio": paired((p) => p.connRuns.map((r) => r.perS)),
    "haproxy_bulk_mbps": haproxy?.bulkMiBs ?? NaN,
    "nginx_bulk_mbps": nginx?.bulkMiBs ?? NaN,
    "haproxy_rtt_p50_ms": haproxy?.rtt.p50Ms ?? NaN,
    "nginx_rtt_p50_ms": nginx?.rtt.p50Ms ?? NaN,
    "haproxy_conn_per_s": haproxy?.conn.perS ?? NaN,
    "nginx_conn_per_s": nginx?.conn.perS ?? NaN,
  };
}

/**
 * The connection rate of one federated bench path over another's, paired run by run (the
 * loaded runs of all paths are interleaved); NaN where either did not run.
 */
export function pairedConnRatio(a?: FederatedPath, b?: FederatedPath): number {
  if (a === undefined || b === undefined) return NaN;
  return pairedRatio(a.loadedRuns.map((r) => r.perS), b.loadedRuns.map((r) => r.perS));
}

/** The NAT lab's paths, and the relayed one's share of the direct one. */
export function natSummary(nat: NatBenchResult | undefined): Record<string, SummaryValue> {
  return {
    "nat_relayed_bulk_mbps": nat?.relayed?.bulkMiBs ?? NaN,
    "nat_direct_bulk_mbps": nat?.direct?.bulkMiBs ?? NaN,
    "nat_relayed_direct_ratio": ratio(nat?.relayed?.bulkMiBs, nat?.direct?.bulkMiBs),
    "nat_punched_bulk_mbps": nat?.punched?.bulkMiBs ?? NaN,
    "nat_punched_rtt_p50_ms": nat?.punched?.rttP50Ms ?? NaN,
    "nat_punch_successes": nat?.punch?.successes ?? NaN,
    "nat_punch_median_ms": nat?.punch?.medianMs ?? NaN,
    "nat_relayed_rtt_p50_ms": nat?.relayed?.rttP50Ms ?? NaN,
    "nat_direct_rtt_p50_ms": nat?.direct?.rttP50Ms ?? NaN,
    "nat_reservation_ms": nat?.reservationMs ?? NaN,
    "nat_first_relayed_answer_ms": nat?.firstRelayedAnswerMs ?? NaN,
    "nat_upnp_mapping_ms": nat?.upnpMappingMs ?? NaN,
  };
}

/** Failover, `Network.stop()` and `ledger.put` figures of the lifecycle part. */
export function lifecycleSummary(
  lifecycle: LifecycleResult | undefined,
): Record<string, SummaryValue> {
  return {
    "failover_sigterm_ms": lifecycle?.failover.SIGTERM?.medianMs ?? NaN,
    "failover_sigkill_ms": lifecycle?.failover.SIGKILL?.medianMs ?? NaN,
    "failover_sigstop_ms": lifecycle?.failover.SIGSTOP?.medianMs ?? NaN,
    "network_stop_ms": lifecycle?.stop.medianMs ?? NaN,
    "ledger_put_3000_ms": lifecycle?.put.keys === 3000 ? lifecycle.put.sequentialMedianMs : NaN,
    "ledger_put_burst_ms": lifecycle?.put.burstPerPutMs ?? NaN,
    "ledger_join_ms": median(lifecycle?.join.joinMs ?? []),
    "ledger_join_cpu_ms": median(lifecycle?.join.cpuMs ?? []),
    "ledger_join_published": median(lifecycle?.join.published ?? []),
    "ledger_join_delivered": median(lifecycle?.join.delivered ?? []),
  };
}

/** Per size and DHT setting of the scale part: RSS per node, write-until-all-read time. */
export function scaleSummary(scale: ScaleResult | undefined): Record<string, SummaryValue> {
  const out: Record<string, SummaryValue> = {};
  for (const n of [10, 20, 40]) {
    for (const dht of [false, true]) {
      const r = scale?.rows.find((x) => x.n === n && x.dht === dht);
      const tag = `scale_${n}${dht ? "_dht" : ""}`;
      out[`${tag}_rss_mib`] = r?.rssMedianMiB ?? NaN;
      out[`${tag}_cpu`] = r?.cpuMedian ?? NaN;
      out[`${tag}_ledger_ms`] = r?.writeMedianMs ?? NaN;
      if (dht) {
        out[`${tag}_formed_ledger_ms`] = r?.formedWriteMedianMs ?? NaN;
        out[`${tag}_formed_rss_mib`] = r?.formedRssMedianMiB ?? NaN;
      }
    }
  }
  return out;
}

/** Counts of failures (`*_errors`, `*_incomplete`): over several runs, one run's count shows. */
function isFailureCount(key: string): boolean {
  return /_(errors|incomplete)$/.test(key);
}

/**
 * The figures of several runs in one summary: each number the median of the runs that
 * measured it (NaN where none did), except counts of failures, which add up (errors in one run
 * must not vanish in a median), and each word the runs' words (`a/b` where they differ).
 */
export function medianSummary(
  runs: readonly Record<string, SummaryValue>[],
): Record<string, SummaryValue> {
  const out: Record<string, SummaryValue> = {};
  const keys = [...new Set(runs.flatMap((r) => Object.keys(r)))];
  for (const key of keys) {
    const values = runs.map((r) => r[key]).filter((v) => v !== undefined);
    if (values.every((v) => typeof v === "number")) {
      const measured = values.filter((v) => Number.isFinite(v));
      out[key] = isFailureCount(key) && measured.length > 0
        ? measured.reduce((a, b) => a + b, 0)
        : median(measured);
    } else {
      out[key] = [...new Set(values.map(String))].join("/");
    }
  }
  return out;
}

/** `v` rounded for reading; with more digits where rounding would make it look like `bound`. */
function formatFigure(v: number, bound: number): string {
  if (Number.isInteger(v)) return String(v);
  let digits = v < 10 ? 3 : 1;
  let text = v.toFixed(digits);
  while (Number(text) === bound && v !== bound && digits < 6) text = v.toFixed(++digits);
  return text;
}

/**
 * One line per goal whose figure was measured: the figure, the bound, met or not. Given the
 * runs a `summary` came from ({@linkcode medianSummary}), each line also lists their figures:
 * the verdict is the median's (the sum's, for errors), not the best run's.
 */
export function goalLines(
  summary: Record<string, SummaryValue>,
  runs: readonly Record<string, SummaryValue>[] = [],
): string[] {
  const lines: string[] = [];
  for (const g of GOALS) {
    const v = summary[g.key];
    if (typeof v !== "number" || !Number.isFinite(v)) continue;
    const met = g.op === "<=" ? v <= g.bound : v >= g.bound;
    const each = runs.map((r) => r[g.key]).map((x) =>
      typeof x === "number" && Number.isFinite(x) ? formatFigure(x, g.bound) : "na"
    );
    const over = runs.length > 1
      ? `; ${isFailureCount(g.key) ? "sum" : "median"} of ${each.join(", ")}`
      : "";
    lines.push(
      `goal ${met ? "met    " : "NOT met"} ${g.label}: ${
        formatFigure(v, g.bound)
      } (target ${g.op} ${g.bound}${over})`,
    );
  }
  return lines;
}
