/**
 * The memory floors of a `p2p` process: `deno run rss_probe.ts empty` is the Deno runtime
 * alone; `rss_probe.ts imports` also loads the module graph `p2p expose` loads (the CLI, and
 * what it imports when the command runs: libp2p, the node compat layer, the network and the
 * services) without starting anything. Prints `{"ready":true}` and
 * waits until stdin closes or SIGTERM; the harness reads VmRSS meanwhile.
 *
 * @module
 */

if (import.meta.main) {
  if (Deno.args[0] === "imports") {
    // What `p2p expose` / `p2p connect` load: the CLI, then (lazily, when the command runs) the
    // network and the services.
    await import("../../main.ts");
    await import("../../src/network/network.ts");
    await import("../../src/services/expose.ts");
    await import("../../src/services/connect.ts");
  }
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
