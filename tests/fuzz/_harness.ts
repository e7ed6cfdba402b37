// Runs a fuzz target for a number of cases: one seeded generator per case, bounded time per
// case, outcomes counted, every unhandled rejection counted, and each failure reported with
// the seed and case index that replay it.
import { Rng } from "./_rng.ts";

/** A property violation found by a target (the input is in the message). */
export class FuzzFailure extends Error {
  /** @param message What went wrong, with the input that caused it. */
  constructor(message: string) {
    super(message);
    this.name = "FuzzFailure";
  }
}

/** One fuzz target: generates case `index` from `rng`, checks it, and names its outcome. */
export interface FuzzTarget<C = undefined> {
  readonly name: string;
  /** Cases run by the `deno test` suite. */
  readonly ciCases: number;
  /** Cases run at once (async targets). @default {1} */
  readonly concurrency?: number;
  /** Bound on one case, in ms. @default {2000} */
  readonly caseTimeoutMs?: number;
  /** Shared state (nodes, keys) for the whole run. */
  setup?(): Promise<C>;
  teardown?(context: C): Promise<void>;
  /**
   * Runs one case. Returns a short outcome label (`accepted`, `rejected:wrong-key`, …) for the
   * histogram; throws {@linkcode FuzzFailure} (or anything else) when a property is violated.
   */
  run(rng: Rng, context: C, index: number): string | Promise<string>;
}

/** Options of {@linkcode runFuzz}. */
export interface FuzzRunOptions {
  seed: number;
  cases: number;
  /** Run only this case index (replay). */
  only?: number | undefined;
  /** Stop after this long even if cases remain, in ms. */
  timeBudgetMs?: number | undefined;
  /** Failures kept in the report. @default {5} */
  maxFailures?: number;
  /** Progress callback every ~2 s. */
  onProgress?: (done: number, elapsedMs: number) => void;
}

/** What a run found. */
export interface FuzzReport {
  target: string;
  seed: number;
  casesRun: number;
  elapsedMs: number;
  /** Outcome label → count. */
  outcomes: Record<string, number>;
  failures: string[];
  failureCount: number;
  unhandledRejections: string[];
  /** The slowest case, in ms, and its index. */
  slowest: { ms: number; index: number };
}

/** Runs `target` and returns what it found (never throws on a failing case). */
export async function runFuzz<C>(
  target: FuzzTarget<C>,
  options: FuzzRunOptions,
): Promise<FuzzReport> {
  const report: FuzzReport = {
    target: target.name,
    seed: options.seed,
    casesRun: 0,
    elapsedMs: 0,
    outcomes: {},
    failures: [],
    failureCount: 0,
    unhandledRejections: [],
    slowest: { ms: 0, index: -1 },
  };
  const onRejection = (event: PromiseRejectionEvent): void => {
    event.preventDefault();
    report.unhandledRejections.push(describe(event.reason));
  };
  const onError = (event: ErrorEvent): void => {
    event.preventDefault();
    report.unhandledRejections.push(`uncaught: ${describe(event.error)}`);
  };
  globalThis.addEventListener("unhandledrejection", onRejection);
  globalThis.addEventListener("error", onError);
  const started = performance.now();
  const context = (await target.setup?.()) as C;
  const maxFailures = options.maxFailures ?? 5;
  const timeoutMs = target.caseTimeoutMs ?? 2_000;
  const replay = (index: number): string =>
    `replay: deno task fuzz --target ${target.name} --seed ${options.seed} --case ${index}`;
  const runOne = async (index: number): Promise<void> => {
    const rng = new Rng(options.seed, index);
    const t0 = performance.now();
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const outcome = await Promise.race([
        Promise.resolve().then(() => target.run(rng, context, index)),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new FuzzFailure(`case did not finish within ${timeoutMs} ms (a hang)`)),
            timeoutMs,
          );
        }),
      ]);
      report.outcomes[outcome] = (report.outcomes[outcome] ?? 0) + 1;
    } catch (err) {
      report.failureCount++;
      report.outcomes["FAILED"] = (report.outcomes["FAILED"] ?? 0) + 1;
      if (report.failures.length < maxFailures) {
        report.failures.push(
          `${target.name} case ${index} (seed ${options.seed}): ${describe(err)}\n  ${
            replay(index)
          }`,
        );
      }
    } finally {
      clearTimeout(timer);
      const ms = performance.now() - t0;
      if (ms > report.slowest.ms) report.slowest = { ms: Math.round(ms), index };
      report.casesRun++;
    }
  };
  try {
    if (options.only !== undefined) {
      await runOne(options.only);
    } else {
      const concurrency = Math.max(1, target.concurrency ?? 1);
      let next = 0;
      let lastProgress = performance.now();
      const outOfTime = (): boolean =>
        options.timeBudgetMs !== undefined && performance.now() - started > options.timeBudgetMs;
      const lane = async (): Promise<void> => {
        while (next < options.cases && !outOfTime()) {
          const index = next++;
          await runOne(index);
          if (options.onProgress && performance.now() - lastProgress > 2_000) {
            lastProgress = performance.now();
            options.onProgress(report.casesRun, performance.now() - started);
          }
        }
      };
      await Promise.all(Array.from({ length: concurrency }, lane));
    }
  } finally {
    await target.teardown?.(context);
    // Let rejections of the last cases surface before the listener goes.
    await new Promise((resolve) => setTimeout(resolve, 50));
    globalThis.removeEventListener("unhandledrejection", onRejection);
    globalThis.removeEventListener("error", onError);
    report.elapsedMs = Math.round(performance.now() - started);
  }
  return report;
}

/** One line per outcome, most frequent first. */
export function formatOutcomes(outcomes: Record<string, number>): string {
  return Object.entries(outcomes).sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k}=${v}`).join(" ");
}

/** Throws with the seed and the failures when the report is not clean (for `deno test`). */
export function assertClean(report: FuzzReport): void {
  const problems: string[] = [];
  if (report.failureCount > 0) {
    problems.push(`${report.failureCount} failing case(s):\n${report.failures.join("\n")}`);
  }
  if (report.unhandledRejections.length > 0) {
    problems.push(
      `${report.unhandledRejections.length} unhandled rejection(s):\n${
        report.unhandledRejections.slice(0, 5).join("\n")
      }`,
    );
  }
  if (problems.length > 0) {
    throw new Error(
      `fuzz target ${report.target} (seed ${report.seed}, FUZZ_SEED=${report.seed} to replay the run): ${
        problems.join("\n")
      }\noutcomes: ${formatOutcomes(report.outcomes)}`,
    );
  }
}

/** The run seed: `FUZZ_SEED` when set, otherwise a fresh one. */
export function seedFromEnv(): number {
  const text = Deno.env.get("FUZZ_SEED");
  if (text !== undefined && text !== "") return Number(text) >>> 0;
  return crypto.getRandomValues(new Uint32Array(1))[0]!;
}

/** `FUZZ_CASES` when set (to run the suite longer or shorter), else `fallback`. */
export function casesFromEnv(fallback: number): number {
  const text = Deno.env.get("FUZZ_CASES");
  return text !== undefined && /^\d+$/.test(text) ? Number(text) : fallback;
}

function describe(err: unknown): string {
  if (err instanceof FuzzFailure) return err.message;
  if (err instanceof Error) return `${err.name}: ${err.message}\n${err.stack ?? ""}`;
  return String(err);
}

/**
 * Registers the CI run of a fuzz target: a seeded, bounded run (`FUZZ_SEED`, `FUZZ_CASES`)
 * that prints its seed and outcomes and fails on any unexpected outcome.
 */
export function fuzzTest<C>(
  name: string,
  target: FuzzTarget<C>,
  options: { sanitizeOps?: boolean; sanitizeResources?: boolean } = {},
): void {
  Deno.test({
    name,
    ...options,
    async fn() {
      const seed = seedFromEnv();
      const report = await runFuzz(target, { seed, cases: casesFromEnv(target.ciCases) });
      console.log(
        `${target.name}: seed ${seed}, ${report.casesRun} cases in ${report.elapsedMs} ms: ${
          formatOutcomes(report.outcomes)
        }`,
      );
      assertClean(report);
    },
  });
}
