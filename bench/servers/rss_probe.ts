/**
 * The memory floors of a `p2p` process: `deno run rss_probe.ts empty` is the Deno runtime
 * alone; `rss_probe.ts imports` also loads the whole module graph of `main.ts` (libp2p,
 * the node compat layer, the CLI) without starting anything. Prints `{"ready":true}` and
 * waits until stdin closes or SIGTERM; the harness reads VmRSS meanwhile.
 *
 * @module
 */

if (import.meta.main) {
  if (Deno.args[0] === "imports") await import("../../main.ts");
  console.log(JSON.stringify({ ready: true }));
  Deno.addSignalListener("SIGTERM", () => Deno.exit(0));
  try {
    for await (const _ of Deno.stdin.readable) {
      // nothing is ever written
    }
  } catch {
    // broken pipe
  }
  Deno.exit(0);
}
