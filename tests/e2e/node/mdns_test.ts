import { privateNamespaceUnavailable } from "../../_helpers/namespaces.ts";
import assert from "node:assert/strict";
import { generateToken } from "../../../src/token/token.ts";

const SCRIPT = new URL("../../node/_fixtures/mdns_pair.sh", import.meta.url).pathname;
import { p2pEntry } from "../../../bench/lib/entry.ts";

const unavailable = privateNamespaceUnavailable(["ip", "curl"]);
if (unavailable !== undefined) {
  console.warn(`mDNS test skipped: needs a private network namespace, but ${unavailable}`);
}

Deno.test({
  name: "p2p node: two nodes without bootstrap peers or DHT find each other over mDNS",
  ignore: unavailable !== undefined,
  async fn() {
    const work = await Deno.makeTempDir({ prefix: "p2p-mdns-" });
    try {
      // Both nodes run in ONE fresh network namespace (only `lo`): mDNS never leaves it.
      const out = await new Deno.Command("unshare", {
        args: ["-n", "bash", SCRIPT],
        env: { DENO: Deno.execPath(), MAIN: p2pEntry(), P2P_TOKEN: generateToken(), WORK: work },
        stdout: "piped",
        stderr: "piped",
        stdin: "null",
        signal: AbortSignal.timeout(60_000),
      }).output();
      const stdout = new TextDecoder().decode(out.stdout);
      const logs = async (port: number) => await Deno.readTextFile(`${work}/${port}.err`);
      const context = `script output:\n${stdout}\nnode A stderr:\n${await logs(18001).catch(() =>
        ""
      )}\nnode B stderr:\n${await logs(18002).catch(() => "")}`;
      assert.equal(out.code, 0, context);
      const line = (tag: string) =>
        stdout.split("\n").find((l) => l.startsWith(`${tag} `))?.slice(tag.length + 1);

      assert.equal(line("VALUE"), '"found over mdns"', context);
      const startA = JSON.parse(line("START-A") ?? "{}") as { peerId?: string };
      assert.match(startA.peerId ?? "", /^12D3KooW/, context);
      const peersOfB = JSON.parse(line("PEERS-OF-B") ?? "[]") as { peerId: string }[];
      assert.ok(peersOfB.some((p) => p.peerId === startA.peerId), context);
      assert.equal(line("EXIT-A"), "0", context);
      assert.equal(line("EXIT-B"), "0", context);
    } finally {
      await Deno.remove(work, { recursive: true });
    }
  },
});
