// When a `p2p` process maps the host's OpenSSL (the noise cipher through FFI): a command that
// carries tunnels at start; `p2p node` only once bulk reaches it (about 5.5 MiB of RSS an idle
// member does not hold). Read from the processes' own memory maps.
import assert from "node:assert/strict";
import { generateToken } from "../../../src/token/token.ts";
import { loadOpenSslAead } from "../../../src/node/openssl_aead.ts";
import {
  getJson,
  loopbackFlags,
  NODE_TEST,
  type RunningNode,
  sendJson,
  spawnNode,
  stopAll,
  waitFor,
} from "../../_helpers/mod.ts";

async function mapsLibcrypto(node: RunningNode): Promise<boolean> {
  return (await Deno.readTextFile(`/proc/${node.process.child.pid}/maps`)).includes("libcrypto");
}

const noOpenSsl = loadOpenSslAead() === undefined;
if (noOpenSsl) console.warn("cipher_load_test: OpenSSL's libcrypto does not load here: skipped");

Deno.test({
  ...NODE_TEST,
  name: "p2p node maps OpenSSL only once bulk reaches it; p2p expose maps it at start",
  ignore: noOpenSsl,
  async fn() {
    const env = { P2P_TOKEN: generateToken() };
    const target = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const nodes: RunningNode[] = [];
    try {
      const member = await spawnNode(["node", ...loopbackFlags()], env);
      nodes.push(member);
      const exposer = await spawnNode([
        "expose",
        "--target",
        `127.0.0.1:${target.addr.port}`,
        "--service",
        "svc",
        ...loopbackFlags([member.addr]),
      ], env);
      nodes.push(exposer);
      // Connected, and the member has the service's record: handshakes and gossip went by.
      await waitFor(
        async () => (await getJson(member.api, "/api/ledger/services/svc")) !== undefined,
        { timeoutMs: 20_000, message: "the service record on the member" },
      );
      assert.equal(await mapsLibcrypto(exposer), true, "expose maps it at start");
      assert.equal(await mapsLibcrypto(member), false, "small messages do not load it");

      // 20 KB of random text (blocks travel gzipped): a noise message above 16 KiB.
      const bulk = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(15_000))));
      const put = await sendJson(exposer.api, "PUT", "/api/ledger/bulk/value", bulk);
      assert.equal(put.status, 200);
      await waitFor(
        async () => (await getJson(member.api, "/api/ledger/bulk/value")) === bulk,
        { timeoutMs: 20_000, message: "the 20 KB value on the member" },
      );
      assert.equal(await mapsLibcrypto(member), true, "a bulk message loads it");
    } finally {
      await stopAll(nodes);
      target.close();
    }
  },
});
