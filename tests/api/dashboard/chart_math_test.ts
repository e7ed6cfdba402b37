// The charts' arithmetic and the page's copy of the history, without a browser.
import assert from "node:assert/strict";
import {
  CHART_MATH_SOURCE,
  formatBytesRate,
  formatMs,
  formatRate,
  lastValue,
  niceBytesCeiling,
  niceCeiling,
  robustMax,
  seriesMax,
  seriesPath,
  stackSeries,
  sumSeries,
} from "../../../src/api/dashboard/chart_math.ts";
import { mergeHistory } from "../../../src/api/dashboard/history_merge.ts";
import type { HistoryJson } from "../../../src/api/history.ts";

Deno.test("niceCeiling: 1, 2, 2.5, 5, 7.5 × 10ⁿ at or above the value", () => {
  const cases: [number, number][] = [
    [0, 1],
    [-3, 1],
    [NaN, 1],
    [0.3, 0.5],
    [1, 1],
    [1.01, 2],
    [2.2, 2.5],
    [3, 5],
    [7, 7.5],
    [8, 10],
    [51, 75],
    [38, 50],
    [97_000, 100_000],
  ];
  for (const [value, nice] of cases) assert.equal(niceCeiling(value), nice, String(value));
});

Deno.test("seriesPath: a gap where a sample is missing, points mapped into the frame", () => {
  const frame = { from: 0, to: 4000, width: 400, height: 100, yMax: 10 };
  const at = [0, 1000, 2000, 3000, 4000];
  assert.equal(seriesPath(at, [0, 5, null, 10, 20], frame), "M0 100L100 50M300 0L400 0");
  // A lone sample is drawn as a short step; samples before the frame are left out.
  assert.equal(seriesPath([-1000, 2000], [1, 5], frame), "M200 50L201 50");
  assert.equal(seriesPath(at, [null, null, null, null, null], frame), "");
  assert.equal(
    seriesPath([0, 1000], [10, 10], frame, true),
    "M0 0L100 0L100 100L0 100Z",
    "an area closes down to the baseline",
  );
});

Deno.test("sumSeries and stackSeries: aligned, null only where every series is", () => {
  const a = [1, null, 2, null];
  const b = [3, 4, null, null];
  assert.deepEqual(sumSeries([a, b]), [4, 4, 2, null]);
  assert.deepEqual(stackSeries([a, b]), [[1, 0, 2, null], [4, 4, 2, null]]);
  assert.deepEqual(sumSeries([]), []);
  assert.equal(seriesMax([null, 3, 7, null]), 7);
  assert.equal(lastValue([1, 2, null]), 2);
  assert.equal(lastValue([null]), null);
});

Deno.test("robustMax: a burst of spikes does not set the ceiling; a lasting rise does", () => {
  const steady = Array.from({ length: 240 }, (_, i) => (i % 10 === 0 ? null : 2 + (i % 3)));
  for (let i = 1; i < 11; i++) steady[i] = 400; // ten seconds of a fresh node's first tunnels
  assert.equal(robustMax([steady]), 8);
  assert.equal(seriesMax(steady), 400);
  const risen = steady.map((v, i) => i >= 180 ? 50 : v); // the last quarter at 50 ms
  assert.equal(robustMax([risen]), 100);
  // Few values: the maximum; none: 0.
  assert.equal(robustMax([[1, 50, null]]), 50);
  assert.equal(robustMax([[null], []]), 0);
});

Deno.test("niceBytesCeiling: nice in the unit shown", () => {
  assert.equal(niceBytesCeiling(900), 1000);
  assert.equal(niceBytesCeiling(195.3 * 1024), 200 * 1024);
  assert.equal(niceBytesCeiling(3.2 * 1024 * 1024), 5 * 1024 * 1024);
  assert.equal(niceBytesCeiling(0), 1);
});

Deno.test("formats: rates, bytes per second, milliseconds", () => {
  assert.equal(formatRate(0), "0.00/s");
  assert.equal(formatRate(12.345), "12.3/s");
  assert.equal(formatRate(2500), "2.5k/s");
  assert.equal(formatRate(null), "–");
  assert.equal(formatBytesRate(900), "900 B/s");
  assert.equal(formatBytesRate(1536), "1.5 KiB/s");
  assert.equal(formatBytesRate(5 * 1024 * 1024), "5.0 MiB/s");
  assert.equal(formatBytesRate(153.2 * 1024), "153 KiB/s");
  assert.equal(formatMs(0.42), "0.42 ms");
  assert.equal(formatMs(3.14), "3.1 ms");
  assert.equal(formatMs(1500), "1.5 s");
});

Deno.test("CHART_MATH_SOURCE: the functions as plain JavaScript the page can run", () => {
  // The page embeds this source: it must define each function with no TypeScript left in it.
  const run = new Function(`${CHART_MATH_SOURCE}\nreturn [niceCeiling(3), formatMs(2)];`);
  assert.deepEqual(run(), [5, "2.0 ms"]);
});

function history(at: number[], workers: Record<string, (number | null)[]>): HistoryJson {
  const blank = at.map(() => 0);
  return {
    intervalMs: 1000,
    capacity: 900,
    latencyWindowMs: 10_000,
    at,
    totals: { peers: blank } as unknown as HistoryJson["totals"],
    workers: Object.entries(workers).map(([id, values]) => ({
      id,
      name: id.toUpperCase(),
      series: { connectionsPerS: values } as unknown as HistoryJson["workers"][number]["series"],
    })),
    events: at.map((t) => ({ at: t, kind: "failed" as const, count: 1 })),
    untrackedWorkers: 0,
  };
}

Deno.test("mergeHistory: appends newer samples, pads new and missing workers, trims", () => {
  const first = mergeHistory(null, history([1000, 2000], { a: [1, 2] }), 60_000);
  assert.deepEqual(first.at, [1000, 2000]);
  // A sample it holds already (2000) is not appended twice; b is new, a is missing.
  const second = mergeHistory(first, history([2000, 3000], { b: [7, 8] }), 60_000);
  assert.deepEqual(second.at, [1000, 2000, 3000]);
  assert.deepEqual(second.workers.map((w) => [w.id, w.series.connectionsPerS]), [
    ["a", [1, 2, null]],
    ["b", [null, null, 8]],
  ]);
  assert.deepEqual(second.totals.peers, [0, 0, 0]);
  assert.deepEqual(second.events.map((e) => e.at), [1000, 2000, 3000]);
  // Past the horizon: old samples, events, and a worker with nothing left, are dropped.
  const third = mergeHistory(second, history([4000, 5000], { b: [9, 9] }), 2_000);
  assert.deepEqual(third.at, [3000, 4000, 5000]);
  assert.deepEqual(third.workers.map((w) => w.id), ["b"]);
  assert.deepEqual(third.events.map((e) => e.at), [3000, 4000, 5000]);
});
