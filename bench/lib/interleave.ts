/**
 * Runs of several paths taken in turns, so that a figure of one path can be set against the
 * figure of another measured seconds before or after it (a 2-core VM has slow stretches that
 * last longer than one run and shorter than one path's whole series).
 */
import { cpuProbe, type CpuReport, sumCpuReports } from "./proc.ts";
import { runOrder } from "./stats.ts";

/** Something measured in runs: the processes whose CPU counts for it. */
export interface Measured {
  pids: Record<string, number>;
}

/**
 * Runs `measure` `runs` times for every path, interleaved (every path's run 1, then every
 * path's run 2, in {@linkcode runOrder}), and takes the CPU of each path's processes around
 * each of its runs.
 *
 * @returns Per path, in the order given: its results in run order and their CPU summed.
 */
export async function interleaved<P extends Measured, T>(
  paths: readonly P[],
  runs: number,
  measure: (path: P) => Promise<T>,
): Promise<{ results: T[]; cpu: CpuReport }[]> {
  const out = paths.map(() => ({ results: [] as T[], reports: [] as CpuReport[] }));
  for (let run = 0; run < runs; run++) {
    for (const i of runOrder(paths.length, run)) {
      const stop = cpuProbe(paths[i]!.pids);
      out[i]!.results.push(await measure(paths[i]!));
      out[i]!.reports.push(stop());
    }
  }
  return out.map((o) => ({ results: o.results, cpu: sumCpuReports(o.reports) }));
}
