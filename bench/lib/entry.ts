/**
 * Which `p2p` the benches and the process-level tests run: `P2P_ENTRY` (a file such as the
 * bundle of `deno task bundle`, which the release binaries are built from) or `main.ts`, and
 * the runtime flags `deno task p2p` gives it.
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

/**
 * The runtime flags of a deno.json task's command line: its `--v8-flags` (the heap settings) and
 * `--no-code-cache`, not its permissions.
 *
 * @param task The task's command line.
 * @returns The flags, in their order.
 */
export function runtimeFlagsOf(task: string): string[] {
  return task.split(/\s+/).filter((f) => f.startsWith("--v8-flags=") || f === "--no-code-cache");
}

/**
 * The runtime flags of the `p2p` task in deno.json ({@linkcode runtimeFlagsOf}), so the benches
 * and the namespace labs run the processes as `deno task p2p` starts them.
 */
export function p2pTaskRuntimeFlags(): string[] {
  try {
    const config = JSON.parse(Deno.readTextFileSync(new URL("../../deno.json", import.meta.url)));
    return runtimeFlagsOf(String(config?.tasks?.p2p ?? ""));
  } catch {
    return [];
  }
}

/**
 * `deno run` flags of the `p2p` processes of the benches and the namespace labs: the task's
 * runtime flags, then `BENCH_DENO_FLAGS` (space-separated), e.g.
 * `--v8-flags=--prof,--logfile=/tmp/prof/%p.log,--no-logfile-per-isolate` to profile them (a
 * later `--v8-flags` adds to the earlier ones).
 */
export function p2pDenoFlags(): string[] {
  const extra = (Deno.env.get("BENCH_DENO_FLAGS") ?? "").split(" ").filter((f) => f !== "");
  return [...p2pTaskRuntimeFlags(), ...extra];
}
