import { runDenoScript } from "../../_helpers/mod.ts";
import assert from "node:assert/strict";

const EXAMPLE = new URL("../../../examples/two_nodes.ts", import.meta.url).pathname;

Deno.test("examples/two_nodes.ts finds a peer, exchanges messages and refuses a replay", async () => {
  const { code, stdout, stderr } = await runDenoScript(EXAMPLE, []);
  assert.equal(code, 0, `exit code ${code}\nstdout:\n${stdout}\nstderr:\n${stderr}`);
  const lines = stdout.trim().split("\n");
  assert.match(lines[0]!, /^alice: 12D3KooW\w+$/);
  assert.match(lines[1]!, /^bob: 12D3KooW\w+$/);
  assert.deepEqual(lines.slice(2), [
    "found: alice",
    "request: hello world",
    'topic: alice got {"headline":"p2p works"} from bob',
    "replay: rejected (replay)",
    'alice rejected: {"replay":1}',
  ]);
});
