// Fuzz (bounded, seeded): the token decoder: random and mutated base64 and YAML throw only InvalidTokenError; decoded tokens are valid and re-encode to themselves.
// FUZZ_SEED=S replays a run; FUZZ_CASES=N changes its length; `deno task fuzz` runs long.
import { NODE_TEST } from "../_helpers/mod.ts";
import { assertClean, casesFromEnv, formatOutcomes, runFuzz, seedFromEnv } from "./_harness.ts";
import { tokenTarget as target } from "./_token.ts";

Deno.test({
  name: "fuzz: token decoder (random and mutated base64/YAML) throws only InvalidTokenError",
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
