/** Small statistics and formatting helpers of the bench harness. */
import type { CpuReport } from "./proc.ts";

/** The median of `xs` (mean of the two middle values for an even count); NaN when empty. */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** The element whose `key` is the median (the lower middle one for an even count). */
export function medianBy<T>(xs: readonly T[], key: (x: T) => number): T {
  const sorted = [...xs].sort((a, b) => key(a) - key(b));
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

/** Nearest-rank percentile `p` (0–100) of `xs`; NaN when empty. */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const rank = Math.min(s.length, Math.max(1, Math.ceil((p / 100) * s.length)));
  return s[rank - 1]!;
}

/** The arithmetic mean; NaN when empty. */
export function mean(xs: readonly number[]): number {
  return xs.length === 0 ? NaN : xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** Rounds to `digits` significant-ish decimals for printing and JSON. */
export function round(x: number, digits = 3): number {
  if (!Number.isFinite(x)) return x;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Formats a number for a table cell. */
export function fmt(x: number | undefined, digits = 1): string {
  if (x === undefined || !Number.isFinite(x)) return "n/a";
  return x.toFixed(digits);
}

/** Pads table cells to fixed widths (first column left-aligned, the rest right-aligned). */
export function row(cells: readonly string[], widths: readonly number[]): string {
  return cells.map((c, i) => i === 0 ? c.padEnd(widths[i] ?? 12) : c.padStart(widths[i] ?? 12))
    .join(" ");
}

/** Counts distinct error messages, keeping at most `max` kinds. */
export class ErrorTally {
  readonly counts = new Map<string, number>();
  total = 0;
  constructor(readonly max = 20) {}

  /** Records one error. */
  add(err: unknown): void {
    this.total++;
    const text = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    const key = text.length > 160 ? `${text.slice(0, 160)}…` : text;
    if (this.counts.has(key) || this.counts.size < this.max) {
      this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    }
  }

  /** The error kinds with their counts, most frequent first. */
  list(): { error: string; count: number }[] {
    return [...this.counts].sort((a, b) => b[1] - a[1]).map(([error, count]) => ({
      error,
      count,
    }));
  }
}

/**
 * Names what bounds a phase from CPU shares: one process near a full core (`cpu:<name>`, a
 * single JS thread or proxy thread saturated), else the machine's cores all busy
 * (`machine-cpu`, shared with whatever else runs), else `latency` (nothing saturated:
 * round trips and waits bound it).
 */
export function limitOf(coreShare: Record<string, number>, machineBusy: number): string {
  const top = Object.entries(coreShare).filter(([, v]) => Number.isFinite(v))
    .sort((a, b) => b[1] - a[1])[0];
  if (top !== undefined && top[1] >= 0.85) return `cpu:${top[0]}`;
  if (machineBusy >= 0.9) return "machine-cpu";
  return "latency";
}

/**
 * The order in which `count` paths take their turn in run `run` when their runs are
 * interleaved: forward in even runs, backward in odd ones, so that no path always goes first
 * (right after a quiet spell) or last.
 */
export function runOrder(count: number, run: number): number[] {
  const forward = Array.from({ length: count }, (_, i) => i);
  return run % 2 === 0 ? forward : forward.reverse();
}

/**
 * The median of the per-run ratios `a[i] / b[i]` of two paths measured in interleaved runs:
 * each ratio compares runs made seconds apart, so a slow stretch of the machine lands in both
 * sides of one ratio instead of in one path's median. NaN when the runs do not pair up.
 */
export function pairedRatio(a: readonly number[], b: readonly number[]): number {
  if (a.length === 0 || a.length !== b.length) return NaN;
  return median(a.map((x, i) => (b[i]! > 0 ? x / b[i]! : NaN)).filter(Number.isFinite));
}

/** A phase's CPU per unit of work, per process, and what bounded the phase. */
export interface CpuAccount {
  /** CPU ms per unit of work (a MiB moved, a connection answered), per process. */
  msPer: Record<string, number>;
  /** Share of one core each process used. */
  coreShare: Record<string, number>;
  /** Busy share of all cores of the machine. */
  machineBusy: number;
  /** What bounded the phase: see {@linkcode limitOf}. */
  limit: string;
}

/** The share of one core each process of `cpu` used. */
export function coreShares(cpu: CpuReport): Record<string, number> {
  return Object.fromEntries(Object.entries(cpu.procs).map(([k, v]) => [k, v.coreShare]));
}

/** `cpu` per unit of the work done in the phase (`units` > 0), with its shares and its bound. */
export function cpuAccount(cpu: CpuReport, units: number): CpuAccount {
  const coreShare = coreShares(cpu);
  return {
    msPer: Object.fromEntries(
      Object.entries(cpu.procs).map(([k, v]) => [k, (v.cpuS * 1000) / units]),
    ),
    coreShare,
    machineBusy: cpu.machineBusy,
    limit: limitOf(coreShare, cpu.machineBusy),
  };
}
