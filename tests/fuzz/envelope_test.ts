// Fuzz (bounded, seeded): the gossip envelope decoder: mutations at every layer (JSON, seal, gzip, block) throw only GossipMessageError; accepted blocks are well-formed and a ledger takes them.
// FUZZ_SEED=S replays a run; FUZZ_CASES=N changes its length; `deno task fuzz` runs long.
import { fuzzTest } from "./_harness.ts";
import { envelopeTarget } from "./_envelope.ts";

fuzzTest(
  "fuzz: gossip envelope, unseal, gunzip and block decoder throw only GossipMessageError",
  envelopeTarget,
);
