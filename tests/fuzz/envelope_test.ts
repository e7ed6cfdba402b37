// Fuzz (bounded, seeded): the gossip envelope decoder: mutations at every layer (JSON, seal, gzip, block) throw only GossipMessageError; accepted blocks are well-formed and a ledger takes them.
// FUZZ_SEED=S replays a run; FUZZ_CASES=N changes its length; `deno task fuzz` runs long.
import { NODE_TEST } from "../_helpers/mod.ts";
import { assertClean, casesFromEnv, formatOutcomes, runFuzz, seedFromEnv } from "./_harness.ts";
import { envelopeTarget as target } from "./_envelope.ts";

Deno.test({
  name: "fuzz: gossip envelope, unseal, gunzip and block decoder throw only GossipMessageError",
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
