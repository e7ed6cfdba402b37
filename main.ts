/**
 * The `p2p` command line. `deno task p2p --help` lists the commands.
 *
 * @module
 */
import { installDenoShims } from "./src/node/deno_shims.ts";
import { runCli } from "./src/cli/main.ts";

if (import.meta.main) {
  installDenoShims();
  const code = await runCli(Deno.args);
  // Long-running commands return only after a clean stop; leave no stray handle behind.
  Deno.exit(code);
}
