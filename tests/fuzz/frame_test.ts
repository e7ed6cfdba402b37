// Fuzz (bounded, seeded): the messaging frame decoder: mutated signed frames throw only InvalidFrameError, never verify with changed fields.
// FUZZ_SEED=S replays a run; FUZZ_CASES=N changes its length; `deno task fuzz` runs long.
import { fuzzTest } from "./_harness.ts";
import { frameTarget } from "./_frame.ts";

fuzzTest(
  "fuzz: messaging frame decoder throws only InvalidFrameError and never verifies a forgery",
  frameTarget,
);
