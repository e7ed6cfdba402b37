import "../../_helpers/mod.ts";
import assert from "node:assert/strict";
import { generateToken } from "../../../src/token/token.ts";
import {
  loopbackFlags,
  type RunningNode,
  runP2P,
  spawnNode,
  stopAll,
  waitFor,
} from "../../_helpers/mod.ts";

Deno.test({
  name: "p2p peers and p2p ping talk to a running node's API",
  async fn() {
    const env = { P2P_TOKEN: generateToken() };
    const nodes: RunningNode[] = [];
    try {
      const seed = await spawnNode(["node", ...loopbackFlags()], env);
      nodes.push(seed);
      const other = await spawnNode(["node", ...loopbackFlags([seed.addr])], env);
      nodes.push(other);

      const peers = await waitFor(async () => {
        const run = await runP2P(["peers", "--api", seed.api]);
        assert.equal(run.code, 0, run.stderr);
        const list = JSON.parse(run.stdout) as { peerId: string }[];
        return list.some((p) => p.peerId === other.start.peerId) && list;
      }, { timeoutMs: 15_000, message: "the second node in p2p peers" });
      assert.ok(peers.length >= 1);

      const ping = await runP2P(["ping", other.start.peerId, "--count", "2"], {
        env: { P2P_API: seed.api },
      });
      assert.equal(ping.code, 0, ping.stderr);
      const lines = ping.stdout.trim().split("\n");
      assert.equal(lines.length, 2);
      for (const [i, line] of lines.entries()) {
        assert.match(
          line,
          new RegExp(`^${other.start.peerId}: seq=${i + 1} time=\\d+\\.\\d\\d ms$`),
        );
      }

      const bad = await runP2P(["ping", "not-a-peer", "--api", seed.api]);
      assert.equal(bad.code, 1);
      assert.match(bad.stderr.trim(), /^error: .*not a peer ID$/);
      assert.equal(bad.stderr.trim().split("\n").length, 1);
    } finally {
      await stopAll(nodes);
    }
  },
});

Deno.test("p2p peers without --api or P2P_API fails with one line", async () => {
  const run = await runP2P(["peers"]);
  assert.equal(run.code, 1);
  assert.equal(run.stderr.trim(), "error: Cannot reach a node: no --api URL (or P2P_API)");
});
