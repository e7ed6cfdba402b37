// Fuzz (bounded, seeded): the TCP ↔ stream bridge: random chunking, half-close and close/reset orders over two libp2p nodes: exact bytes without an abort, never a hang or an unhandled rejection.
// FUZZ_SEED=S replays a run; FUZZ_CASES=N changes its length; `deno task fuzz` runs long.
import { NODE_TEST } from "../_helpers/mod.ts";
import { assertClean, casesFromEnv, formatOutcomes, runFuzz, seedFromEnv } from "./_harness.ts";
import { bridgeTargetWith } from "./_bridge.ts";

const target = bridgeTargetWith(64 * 1024, 0.003);

Deno.test({
  name:
    "fuzz: bridge under random chunking and close/reset orders: exact bytes, no hang, no rejection",
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
