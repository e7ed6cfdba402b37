// Fuzz (bounded, seeded): the messaging frame decoder: mutated signed frames throw only InvalidFrameError, never verify with changed fields.
// FUZZ_SEED=S replays a run; FUZZ_CASES=N changes its length; `deno task fuzz` runs long.
import { NODE_TEST } from "../_helpers/mod.ts";
import { assertClean, casesFromEnv, formatOutcomes, runFuzz, seedFromEnv } from "./_harness.ts";
import { frameTarget as target } from "./_frame.ts";

Deno.test({
  name: "fuzz: messaging frame decoder throws only InvalidFrameError and never verifies a forgery",
  ...NODE_TEST,
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
