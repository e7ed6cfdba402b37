// The charts' arithmetic with no DOM: scales, SVG path data with gaps where there is no
// sample, and the units operators read. Pure and self-contained (each function is embedded in
// the page by its source, see `CHART_MATH_SOURCE`), so the unit tests run the page's code.

import { embedFunctions } from "./embed.ts";

/** The smallest "nice" number (1, 2, 2.5, 5 or 7.5 × 10ⁿ) at or above `value`; 1 for nothing. */
export function niceCeiling(value: number): number {
  if (!(value > 0) || !Number.isFinite(value)) return 1;
  const power = Math.pow(10, Math.floor(Math.log10(value)));
  for (const step of [1, 2, 2.5, 5, 7.5, 10]) {
    if (step * power >= value * (1 - 1e-9)) return step * power;
  }
  return 10 * power;
}

/** The largest finite value of `series` (0 when there is none). */
export function seriesMax(series: readonly (number | null)[]): number {
  let max = 0;
  for (const v of series) if (typeof v === "number" && Number.isFinite(v) && v > max) max = v;
  return max;
}

/**
 * A chart ceiling that a burst of outliers does not set: twice the 90th percentile of the
 * finite values of all `list`, or their maximum if that is lower (or when there are fewer than
 * 20 values). Values above it are drawn clipped at the top: a cold start's 200 ms tunnels do
 * not flatten a quarter hour of 2 ms ones, while a lasting rise (a tenth of the time or more)
 * still sets the scale.
 */
export function robustMax(list: readonly (readonly (number | null)[])[]): number {
  const values: number[] = [];
  for (const s of list) {
    for (const v of s) if (typeof v === "number" && Number.isFinite(v)) values.push(v);
  }
  if (values.length === 0) return 0;
  values.sort((a, b) => a - b);
  const max = values[values.length - 1]!;
  if (values.length < 20) return max;
  return Math.min(max, 2 * values[Math.ceil(0.9 * values.length) - 1]!);
}

/** {@linkcode niceCeiling} in the unit a byte rate is shown in (B, KiB, MiB, GiB per second). */
export function niceBytesCeiling(value: number): number {
  if (!(value > 0) || !Number.isFinite(value)) return 1;
  const unit = Math.pow(1024, Math.min(3, Math.floor(Math.log(value) / Math.log(1024))));
  return niceCeiling(value / unit) * unit;
}

/** The last value of `series` that is a number, or `null`. */
export function lastValue(series: readonly (number | null)[]): number | null {
  for (let i = series.length - 1; i >= 0; i--) {
    const v = series[i];
    if (typeof v === "number" && Number.isFinite(v)) return v;
  }
  return null;
}

/** Element-wise sum of aligned series; `null` where every series has no value. */
export function sumSeries(list: readonly (readonly (number | null)[])[]): (number | null)[] {
  const length = Math.max(0, ...list.map((s) => s.length));
  const out: (number | null)[] = [];
  for (let i = 0; i < length; i++) {
    let sum: number | null = null;
    for (const s of list) {
      const v = s[i];
      if (typeof v === "number" && Number.isFinite(v)) sum = (sum ?? 0) + v;
    }
    out.push(sum);
  }
  return out;
}

/**
 * Running totals of aligned series, for a stacked chart: entry `k` is the sum of series 0…k
 * (a missing value counts as 0 where another series has one; `null` where none has).
 */
export function stackSeries(list: readonly (readonly (number | null)[])[]): (number | null)[][] {
  const present = sumSeries(list);
  const stacked: (number | null)[][] = [];
  let below: number[] = present.map(() => 0);
  for (const s of list) {
    below = below.map((b, i) =>
      b + (typeof s[i] === "number" && Number.isFinite(s[i]) ? s[i]! : 0)
    );
    stacked.push(below.map((v, i) => present[i] === null ? null : v));
  }
  return stacked;
}

/** Where a chart maps time and values: `[from, to]` ms onto `[0, width]`, `[0, yMax]` upward. */
export interface ChartFrame {
  from: number;
  to: number;
  width: number;
  height: number;
  yMax: number;
}

/**
 * SVG path data of `values` at times `at` in `frame`: a line that breaks where a value is
 * missing (`null`), so a gap in the data is a gap in the chart, not a slope; with `area`,
 * each run is closed down to the baseline for a fill.
 */
export function seriesPath(
  at: readonly number[],
  values: readonly (number | null)[],
  frame: ChartFrame,
  area = false,
): string {
  const span = frame.to - frame.from || 1;
  const x = (t: number): number => ((t - frame.from) / span) * frame.width;
  const y = (v: number): number =>
    frame.height - (Math.min(v, frame.yMax) / (frame.yMax || 1)) * frame.height;
  const f = (v: number): string => String(Math.round(v * 10) / 10);
  let path = "";
  let run: [number, number][] = [];
  const flush = (): void => {
    if (run.length === 0) return;
    // A lone sample is still visible: a short flat step.
    if (run.length === 1) run.push([run[0]![0] + 1, run[0]![1]]);
    path += "M" + run.map(([px, py]) => f(px) + " " + f(py)).join("L");
    if (area) {
      path += "L" + f(run[run.length - 1]![0]) + " " + f(frame.height) + "L" + f(run[0]![0]) +
        " " + f(frame.height) + "Z";
    }
    run = [];
  };
  for (let i = 0; i < at.length; i++) {
    const t = at[i]!;
    const v = values[i];
    if (t < frame.from || typeof v !== "number" || !Number.isFinite(v)) {
      flush();
      continue;
    }
    run.push([x(t), y(v)]);
  }
  flush();
  return path;
}

/** `12.5/s`, `1.2k/s`: connections or requests per second. */
export function formatRate(value: number | null): string {
  if (value === null || !Number.isFinite(value)) return "–";
  if (value >= 1000) return (value / 1000).toFixed(1) + "k/s";
  return (value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2)) +
    "/s";
}

/** `0 B/s`, `12.3 KiB/s`, `153 KiB/s`, `4.0 MiB/s`. */
export function formatBytesRate(value: number | null): string {
  if (value === null || !Number.isFinite(value)) return "–";
  const units = ["B/s", "KiB/s", "MiB/s", "GiB/s"];
  let v = value;
  let unit = 0;
  while (v >= 1024 && unit < units.length - 1) {
    v /= 1024;
    unit++;
  }
  return (unit === 0 || v >= 100 ? v.toFixed(0) : v.toFixed(1)) + " " + units[unit];
}

/** `0.42 ms`, `3.1 ms`, `250 ms`, `1.5 s`. */
export function formatMs(value: number | null): string {
  if (value === null || !Number.isFinite(value)) return "–";
  if (value >= 1000) return (value / 1000).toFixed(1) + " s";
  return (value >= 100 ? value.toFixed(0) : value >= 1 ? value.toFixed(1) : value.toFixed(2)) +
    " ms";
}

/** The functions above as the page embeds them (compiled source, see `embed.ts`). */
export const CHART_MATH_SOURCE: string = embedFunctions({
  niceCeiling,
  seriesMax,
  robustMax,
  niceBytesCeiling,
  lastValue,
  sumSeries,
  stackSeries,
  seriesPath,
  formatRate,
  formatBytesRate,
  formatMs,
});
