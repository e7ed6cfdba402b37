// `p2p federated` on the command line: bad input fails with one `error:` line and exit 1;
// without a token it starts a new network and says how workers join.
import {
  assertCliError,
  loopbackFlags,
  runP2P,
  type RunResult,
  spawnNode,
} from "../../_helpers/mod.ts";
import assert from "node:assert/strict";
import { decodeToken, encodeToken, generateTokenConfig } from "../../../src/token/token.ts";

const TOKEN = encodeToken(generateTokenConfig());

function federated(args: string[]): Promise<RunResult> {
  return runP2P(["federated", ...args, ...loopbackFlags()], { env: { P2P_TOKEN: TOKEN } });
}

Deno.test("p2p federated --listen nonsense: one error line naming it, exit 1, before any node starts", async () => {
  const result = await federated(["--listen", "nonsense"]);
  assertCliError(result, /^error: Cannot use --listen "nonsense": expected HOST:PORT$/);
  // It failed before the node started: the error is all there is.
  assert.equal(result.stderr.trim().split("\n").length, 1, result.stderr);
});

Deno.test("p2p federated --listen on a port in use: one error line naming the address, exit 1", async () => {
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const address = `127.0.0.1:${(taken.addr as Deno.NetAddr).port}`;
    const result = await federated(["--listen", address]);
    assertCliError(
      result,
      new RegExp(`^error: Cannot listen on --listen "${address}": the address is already in use$`),
      { afterStart: true },
    );
  } finally {
    taken.close();
  }
});

Deno.test("p2p federated --strategy fastest: one error line listing the strategies, exit 1", async () => {
  const result = await federated(["--listen", "127.0.0.1:0", "--strategy", "fastest"]);
  assertCliError(
    result,
    /^error: .*'fastest' is invalid\. Allowed choices are least-connections, round-robin, random\.$/,
  );
  assert.equal(result.stderr.trim().split("\n").length, 1, result.stderr);
});

Deno.test("p2p federated --connect-timeout 0: one error line naming it, exit 1", async () => {
  const result = await federated(["--listen", "127.0.0.1:0", "--connect-timeout", "0"]);
  assertCliError(
    result,
    /^error: Cannot use --connect-timeout "0": not a positive integer$/,
  );
  assert.equal(result.stderr.trim().split("\n").length, 1, result.stderr);
});

Deno.test("p2p federated --idle-timeout 0 / abc / P2P_IDLE_TIMEOUT=-1: one error line naming it", async () => {
  for (const value of ["0", "abc", "1.5"]) {
    assertCliError(
      await federated(["--listen", "127.0.0.1:0", "--idle-timeout", value]),
      new RegExp(`^error: Cannot use --idle-timeout "${value}": not a positive integer$`),
    );
  }
  const result = await runP2P(["federated", "--listen", "127.0.0.1:0", ...loopbackFlags()], {
    env: { P2P_TOKEN: TOKEN, P2P_IDLE_TIMEOUT: "-1" },
  });
  assertCliError(result, /^error: Cannot use --idle-timeout "-1": not a positive integer$/);
});

Deno.test("p2p federated --max-connections above the stream budget: one error line naming it", async () => {
  const result = await federated(["--listen", "127.0.0.1:0", "--max-connections", "5000"]);
  assertCliError(
    result,
    /^error: Cannot use --max-connections "5000": above 4096, the tunnels one worker connection carries$/,
  );
});

Deno.test({
  name: "p2p federated without a token: prints a new token in its start line, hints `p2p worker`",
  async fn() {
    const node = await spawnNode(["federated", "--listen", "127.0.0.1:0", ...loopbackFlags()]);
    let status: Deno.CommandStatus | undefined;
    try {
      assert.equal(typeof node.start.token, "string");
      const token = decodeToken(node.start.token!);
      assert.ok(token.room.length > 0);
      assert.match(String(node.start.listen), /^127\.0\.0\.1:\d+$/);
      const stderr = node.process.stderrText;
      assert.match(stderr, /p2p worker/);
      // The secret itself only goes to stdout.
      assert.ok(!stderr.includes(node.start.token!), "the token was logged on stderr");
    } finally {
      status = await node.process.stop("SIGTERM");
    }
    assert.equal(status.code, 0, node.process.stderrText);
  },
});
