// A `p2p` process gives its start-up garbage back once it goes quiet (`src/cli/heap_trim.ts`),
// and leaves its heap to V8 with `P2P_TUNING=heap:stock`. Read from its debug log.
import assert from "node:assert/strict";
import { generateToken } from "../../../src/token/token.ts";
import {
  loopbackFlags,
  NODE_TEST,
  type RunningNode,
  spawnNode,
  stopAll,
  waitFor,
} from "../../_helpers/mod.ts";

const COLLECTED = /Heap collected: (\d+) → (\d+) bytes/;

Deno.test({
  ...NODE_TEST,
  name: "p2p node collects its heap once quiet; heap:stock leaves it to V8",
  async fn() {
    const token = generateToken();
    const debug = ["--log-level", "debug"];
    const nodes: RunningNode[] = [];
    try {
      const stock = await spawnNode(["node", ...loopbackFlags(), ...debug], {
        P2P_TOKEN: token,
        P2P_TUNING: "heap:stock",
      });
      nodes.push(stock);
      const trimming = await spawnNode(["node", ...loopbackFlags([stock.addr]), ...debug], {
        P2P_TOKEN: token,
      });
      nodes.push(trimming);
      const line = await waitFor(
        () => trimming.process.stderrLines.find((l) => COLLECTED.test(l)),
        { timeoutMs: 30_000, message: "the heap collection of the quiet node" },
      );
      const [, before, after] = line.match(COLLECTED)!;
      assert.ok(Number(after) < Number(before), line);
      // The stock node started first and has been as quiet for longer.
      assert.equal(stock.process.stderrLines.some((l) => COLLECTED.test(l)), false);
    } finally {
      await stopAll(nodes);
    }
  },
});
