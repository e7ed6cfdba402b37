// Fuzz (bounded, seeded): the token decoder: random and mutated base64 and YAML throw only InvalidTokenError; decoded tokens are valid and re-encode to themselves.
// FUZZ_SEED=S replays a run; FUZZ_CASES=N changes its length; `deno task fuzz` runs long.
import { fuzzTest } from "./_harness.ts";
import { tokenTarget } from "./_token.ts";

fuzzTest(
  "fuzz: token decoder (random and mutated base64/YAML) throws only InvalidTokenError",
  tokenTarget,
);
