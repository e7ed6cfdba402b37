// Long fuzz runs: `deno task fuzz [--target NAME|all] [--cases N] [--minutes M] [--seed S]
// [--case I]`. Runs each target for N cases (default 1,000,000; the bridge target, which moves
// real bytes through two libp2p nodes, for N / 100) or M minutes, prints progress and the
// outcome histogram, and exits 1 on any failing case or unhandled rejection. `--seed S
// --case I` replays one case (the failure messages print both).
import { installDenoShims } from "../../src/node/deno_shims.ts";
installDenoShims();
import { parseArgs } from "node:util";
import { formatOutcomes, type FuzzReport, type FuzzTarget, runFuzz } from "./_harness.ts";
import { randomSeed } from "./_rng.ts";
import { TARGETS } from "./_targets.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    target: { type: "string", default: "all" },
    cases: { type: "string", default: "1000000" },
    minutes: { type: "string" },
    seed: { type: "string" },
    case: { type: "string" },
  },
});

const names = values.target === "all" ? Object.keys(TARGETS) : values.target.split(",");
const unknown = names.filter((n) => !(n in TARGETS));
if (unknown.length > 0) {
  console.error(
    `error: unknown target ${unknown.join(", ")} (targets: ${Object.keys(TARGETS).join(", ")})`,
  );
  Deno.exit(2);
}
const seed = values.seed === undefined ? randomSeed() : Number(values.seed) >>> 0;
const cases = Number(values.cases);
const budgetMs = values.minutes === undefined ? undefined : Number(values.minutes) * 60_000;
const only = values.case === undefined ? undefined : Number(values.case);

let failed = false;
for (const name of names) {
  const target = TARGETS[name] as FuzzTarget<unknown>;
  const targetCases = name === "bridge" ? Math.max(1, Math.floor(cases / 100)) : cases;
  console.log(
    `fuzz ${name}: seed ${seed}, ${only === undefined ? `${targetCases} cases` : `case ${only}`}${
      budgetMs === undefined ? "" : `, at most ${values.minutes} min`
    }`,
  );
  const report: FuzzReport = await runFuzz(target, {
    seed,
    cases: targetCases,
    only,
    timeBudgetMs: budgetMs,
    maxFailures: 20,
    onProgress: (done, ms) => console.log(`  ${name}: ${done} cases, ${(ms / 1000).toFixed(0)} s`),
  });
  console.log(
    `  ${name}: ${report.casesRun} cases in ${
      (report.elapsedMs / 1000).toFixed(1)
    } s, slowest ${report.slowest.ms} ms (case ${report.slowest.index})`,
  );
  console.log(`  outcomes: ${formatOutcomes(report.outcomes)}`);
  for (const failure of report.failures) console.log(`  FAILURE ${failure}`);
  for (const rejection of report.unhandledRejections.slice(0, 20)) {
    console.log(`  UNHANDLED REJECTION ${rejection}`);
  }
  if (report.failureCount > 0 || report.unhandledRejections.length > 0) failed = true;
}
console.log(failed ? "fuzz: FAILED" : "fuzz: clean");
Deno.exit(failed ? 1 : 0);
