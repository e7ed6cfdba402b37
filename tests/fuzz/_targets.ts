// Every fuzz target, by name (`deno task fuzz --target NAME`).
import { bridgeTarget } from "./_bridge.ts";
import { envelopeTarget } from "./_envelope.ts";
import { frameTarget } from "./_frame.ts";
import type { FuzzTarget } from "./_harness.ts";
import { tokenTarget } from "./_token.ts";

/** The targets, in the order `--target all` runs them. */
export const TARGETS: Record<string, FuzzTarget<never>> = {
  token: tokenTarget as FuzzTarget<never>,
  envelope: envelopeTarget as FuzzTarget<never>,
  frame: frameTarget as FuzzTarget<never>,
  bridge: bridgeTarget as FuzzTarget<never>,
};
