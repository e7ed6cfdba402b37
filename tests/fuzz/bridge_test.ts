// Fuzz (bounded, seeded): the TCP ↔ stream bridge: random chunking, half-close and close/reset orders over two libp2p nodes: exact bytes without an abort, never a hang or an unhandled rejection.
// FUZZ_SEED=S replays a run; FUZZ_CASES=N changes its length; `deno task fuzz` runs long.
import { NODE_TEST } from "../_helpers/mod.ts";
import { fuzzTest } from "./_harness.ts";
import { bridgeTargetWith } from "./_bridge.ts";

// Two libp2p nodes in this process: see NODE_TEST.
fuzzTest(
  "fuzz: bridge under random chunking and close/reset orders: exact bytes, no hang, no rejection",
  bridgeTargetWith(64 * 1024, 0.003),
  NODE_TEST,
);
