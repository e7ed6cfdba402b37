// The Go peer's control protocol itself: bad input gets a one-line error and the peer lives on.
import assert from "node:assert/strict";
import { generateToken } from "../../../src/token/token.ts";
import { INTEROP_TEST } from "./_fixtures.ts";
import { type GoPeer, GoPeerError, startGoPeer } from "./_go_peer.ts";

Deno.test({
  name: "interop control: malformed requests get one-line errors and the Go peer keeps serving",
  ...INTEROP_TEST,
  async fn() {
    let go: GoPeer | undefined;
    try {
      go = await startGoPeer({ token: generateToken() });
      const peer = go;
      for (const line of ["not json", "[1,2]", "x".repeat(2 * 1024 * 1024)]) {
        await peer.sendRaw(line);
        const answer = await peer.nextAnswer(null);
        assert.equal(answer.ok, false);
        assert.match(answer.error ?? "", /^Cannot (parse|read) request: [^\n]+$/);
      }
      const refusals: [string, Record<string, unknown>, RegExp][] = [
        ["", {}, /"cmd" is missing/],
        ["frobnicate", {}, /unknown command "frobnicate"/],
        ["put", { bucket: "b" }, /"bucket" and "key" are required/],
        ["put", { bucket: "b", key: "k" }, /"value" is not JSON/],
        ["put-random", { bucket: "b", key: "k", bytes: -1 }, /"bytes" must be/],
        ["dial", { addr: "/ip4/8.8.8.8/tcp/4001/p2p/" + peer.peerId }, /not a loopback address/],
        ["dial", { addr: "nonsense" }, /not a multiaddr/],
        ["connect", {}, /"service" is required/],
        ["worker", { bucket: "worker" }, /"bucket" and "target" are required/],
      ];
      for (const [cmd, args, pattern] of refusals) {
        await assert.rejects(
          peer.command(cmd, args),
          (err: unknown) => err instanceof GoPeerError && pattern.test(err.message),
          `${cmd} ${JSON.stringify(args)}`,
        );
      }
      const info = await peer.command<{ peerId: string }>("info");
      assert.equal(info.peerId, peer.peerId);
      await peer.command("expose", { name: "one", target: "127.0.0.1:9" });
      await assert.rejects(
        peer.command("expose", { name: "two", target: "127.0.0.1:9" }),
        /already serves "one"/,
      );
      assert.equal((await go.stop()).code, 0, "a clean exit on SIGTERM");
    } finally {
      await go?.stop();
    }
  },
});
