import assert from "node:assert/strict";
import { generateToken } from "../../../src/token/token.ts";
import {
  getJson,
  loopbackFlags,
  type RunningNode,
  sendJson,
  spawnNode,
  stopAll,
  waitFor,
} from "../../_helpers/mod.ts";

/** Waits until every node's API returns `expected` for bucket/key; returns the ms it took. */
async function visibleOnAll(
  nodes: RunningNode[],
  path: string,
  expected: unknown,
  timeoutMs: number,
): Promise<number> {
  const started = performance.now();
  await waitFor(async () => {
    const values = await Promise.all(nodes.map((n) => getJson(n.api, path)));
    return values.every((v) => JSON.stringify(v) === JSON.stringify(expected));
  }, { timeoutMs, message: `${path} = ${JSON.stringify(expected)} on all nodes` });
  return performance.now() - started;
}

Deno.test({
  name: "p2p node: five processes share the ledger; puts, deletes and late joiners converge",
  async fn() {
    const token = generateToken();
    const env = { P2P_TOKEN: token };
    const nodes: RunningNode[] = [];
    try {
      const seed = await spawnNode(["node", ...loopbackFlags()], env);
      nodes.push(seed);
      nodes.push(
        ...await Promise.all(
          [1, 2, 3].map(() => spawnNode(["node", ...loopbackFlags([seed.addr])], env)),
        ),
      );
      // Everyone is connected to the seed before the write.
      await waitFor(async () => {
        const peers = await getJson(seed.api, "/api/peers") as unknown[];
        return peers.length >= 3;
      }, { timeoutMs: 10_000, message: "three peers on the seed" });

      const put = await sendJson(nodes[2]!.api, "PUT", "/api/ledger/demo/greeting", {
        hello: "world",
      });
      assert.equal(put.status, 200);
      await visibleOnAll(nodes, "/api/ledger/demo/greeting", { hello: "world" }, 3_000);

      const late = await spawnNode(["node", ...loopbackFlags([seed.addr])], env);
      nodes.push(late);
      await visibleOnAll([late], "/api/ledger/demo/greeting", { hello: "world" }, 5_000);

      const del = await sendJson(nodes[2]!.api, "DELETE", "/api/ledger/demo/greeting");
      assert.equal(del.status, 200);
      assert.equal((del.body as { deleted: boolean }).deleted, true);
      await visibleOnAll(nodes, "/api/ledger/demo/greeting", undefined, 3_000);
    } finally {
      await stopAll(nodes);
    }
    for (const node of nodes) {
      const status = await node.process.exited;
      assert.equal(status.code, 0, `node exited with ${status.code}:\n${node.process.stderrText}`);
    }
  },
});
