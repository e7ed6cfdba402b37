import { loopbackFlags, runP2P, spawnNode, stopAll } from "../../_helpers/mod.ts";
import assert from "node:assert/strict";
import { generateToken } from "../../../src/token/token.ts";

/** Non-empty lines of a process's stderr. */
function lines(text: string): string[] {
  return text.split("\n").filter((line) => line.trim() !== "");
}

Deno.test({
  name: "p2p node --identity keeps the same peer ID across restarts, in a 0600 file",
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "p2p-identity-" });
    const file = `${dir}/node.key`;
    const env = { P2P_TOKEN: generateToken() };
    try {
      const first = await spawnNode(["node", "--identity", file, ...loopbackFlags()], env);
      let status;
      try {
        assert.match(first.start.peerId, /^12D3KooW/);
        const info = await Deno.stat(file);
        assert.equal(info.mode! & 0o777, 0o600, `mode ${(info.mode! & 0o777).toString(8)}`);
      } finally {
        status = await first.process.stop();
      }
      assert.equal(status.code, 0);
      const saved = await Deno.readFile(file);

      const second = await spawnNode(["node", "--identity", file, ...loopbackFlags()], env);
      try {
        assert.equal(second.start.peerId, first.start.peerId);
        assert.ok(second.addr.endsWith(`/p2p/${first.start.peerId}`));
      } finally {
        await stopAll([second]);
      }
      assert.deepEqual(await Deno.readFile(file), saved, "the key file is not rewritten");
      assert.equal((await Deno.stat(file)).mode! & 0o777, 0o600);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "p2p node --identity with a corrupt file fails with one error line and keeps the file",
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "p2p-identity-" });
    const env = { P2P_TOKEN: generateToken() };
    try {
      const corrupt = `${dir}/corrupt.key`;
      const empty = `${dir}/empty.key`;
      const contents = new TextEncoder().encode("this is not a libp2p private key\n");
      await Deno.writeFile(corrupt, contents, { mode: 0o600 });
      await Deno.writeFile(empty, new Uint8Array(), { mode: 0o600 });
      const missingDir = `${dir}/no/such/dir/node.key`;

      const results = await Promise.all(
        [corrupt, empty, missingDir].map((file) =>
          runP2P(["node", "--identity", file, ...loopbackFlags()], { env })
        ),
      );
      for (const [i, file] of [corrupt, empty, missingDir].entries()) {
        const result = results[i]!;
        assert.equal(result.code, 1, result.stderr);
        assert.equal(result.stdout, "", "no start line");
        const errors = lines(result.stderr);
        assert.equal(errors.length, 1, result.stderr);
        assert.match(errors[0]!, /^error: /);
        assert.ok(errors[0]!.includes(`"${file}"`), errors[0]!);
      }
      assert.match(lines(results[0]!.stderr)[0]!, /not a libp2p private key/);
      assert.deepEqual(await Deno.readFile(corrupt), contents, "the corrupt file is untouched");
      assert.equal((await Deno.readFile(empty)).length, 0, "the empty file is untouched");
      await assert.rejects(Deno.stat(missingDir), Deno.errors.NotFound);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
