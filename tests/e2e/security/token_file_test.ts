// Issue 14 point 12: secrets out of the command line. `--token-file` / `P2P_TOKEN_FILE` give
// the network token to every node-running command (a value on the command line is visible
// in ps and /proc/PID/cmdline); `--api-token-file` does the same for the API token. A file
// that is missing, empty, a directory or not a token stops the command with one error line
// naming it.
import { assertCliError, loopbackFlags, runP2P, spawnNode, stopAll } from "../../_helpers/mod.ts";
import assert from "node:assert/strict";
import { generateToken } from "../../../src/token/token.ts";

/** The command line of every node-running command, without the token. */
const COMMANDS: string[][] = [
  ["node"],
  ["federated", "--listen", "127.0.0.1:0"],
  ["worker", "--target", "127.0.0.1:9"],
  ["expose", "--target", "127.0.0.1:9", "--service", "web"],
  ["connect", "--service", "web"],
  ["discover"],
];

Deno.test({
  name: "--token-file and P2P_TOKEN_FILE: the node runs on the file's token, which is not on argv",
  async fn() {
    const dir = await Deno.makeTempDir();
    const token = generateToken();
    try {
      const file = `${dir}/token`;
      await Deno.writeTextFile(file, `${token}\n`, { mode: 0o600 });
      const byFlag = await spawnNode(["node", ...loopbackFlags(), "--token-file", file]);
      const byEnv = await spawnNode(["node", ...loopbackFlags([byFlag.addr])], {
        P2P_TOKEN_FILE: file,
      });
      try {
        // Neither generated a token: both run on the file's.
        assert.equal(byFlag.start.token, undefined);
        assert.equal(byEnv.start.token, undefined);
        // Same network: the second, bootstrapping to the first, joins its ledger.
        const put = await fetch(`${byFlag.api}/api/ledger/demo/k`, {
          method: "PUT",
          body: JSON.stringify({ from: "flag" }),
        });
        assert.equal(put.status, 200);
        let seen: unknown;
        for (let i = 0; i < 100 && seen === undefined; i++) {
          const answer = await fetch(`${byEnv.api}/api/ledger/demo/k`);
          seen = answer.ok ? await answer.json() : (await answer.body?.cancel(), undefined);
          if (seen === undefined) await new Promise((resolve) => setTimeout(resolve, 100));
        }
        assert.deepEqual(seen, { from: "flag" });
        const argv = await Deno.readTextFile(`/proc/${byFlag.process.child.pid}/cmdline`);
        assert.ok(!argv.includes(token), "the token is on the command line");
      } finally {
        await stopAll([byFlag, byEnv]);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "bad token files: one error line naming the file, exit 1, for every node command",
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const missing = `${dir}/missing`;
      const empty = `${dir}/empty`;
      const garbage = `${dir}/garbage`;
      await Deno.writeTextFile(empty, " \n");
      await Deno.writeTextFile(garbage, "not a token\n");
      const run = (args: string[], env: Record<string, string> = {}) =>
        runP2P([...args, ...loopbackFlags()], { env, timeoutMs: 15_000 });
      for (const command of COMMANDS) {
        assertCliError(
          await run([...command, "--token-file", missing]),
          new RegExp(`^error: Cannot read --token-file "${missing}": no such file$`),
        );
      }
      assertCliError(
        await run(["node", "--token-file", empty]),
        new RegExp(`^error: Cannot use --token-file "${empty}": the file is empty$`),
      );
      assertCliError(
        await run(["node", "--token-file", dir]),
        new RegExp(`^error: Cannot read --token-file "${dir}": it is a directory$`),
      );
      assertCliError(
        await run(["node", "--token-file", garbage]),
        new RegExp(`^error: Cannot decode token: .* \\(from --token-file "${garbage}"\\)$`),
      );
      assertCliError(
        await run(["worker", "--target", "127.0.0.1:9"], { P2P_TOKEN_FILE: missing }),
        new RegExp(`^error: Cannot read P2P_TOKEN_FILE "${missing}": no such file$`),
      );
      assertCliError(
        await run(["node", "--token", generateToken(), "--token-file", garbage]),
        /^error: Cannot use both --token and --token-file$/,
      );
      assertCliError(
        await run(["node", "--token", generateToken(), "--api-token-file", missing]),
        new RegExp(`^error: Cannot read --api-token-file "${missing}": no such file$`),
      );
      const client = await runP2P(
        ["ledger", "list", "--api", "http://127.0.0.1:9", "--api-token-file", empty],
        { timeoutMs: 15_000 },
      );
      assertCliError(
        client,
        new RegExp(`^error: Cannot use --api-token-file "${empty}": the file is empty$`),
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
