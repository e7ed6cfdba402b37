/**
 * Which `p2p` the benches and the process-level tests run: `P2P_ENTRY` (a file such as the
 * bundle of `deno task bundle`, which the release binaries are built from) or `main.ts`.
 *
 * @module
 */
import { resolve } from "node:path";

const SOURCE_MAIN = new URL("../../main.ts", import.meta.url).pathname;

/**
 * The script that `deno run` starts as `p2p`: `P2P_ENTRY` (relative to the working directory)
 * if set, else `main.ts`.
 */
export function p2pEntry(): string {
  const entry = Deno.env.get("P2P_ENTRY");
  if (entry === undefined || entry === "") return SOURCE_MAIN;
  return resolve(entry);
}
