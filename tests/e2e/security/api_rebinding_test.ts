// Issue 14 point 1, in a browser: DNS rebinding against the loopback API. Headless Chromium
// resolves attacker.example to 127.0.0.1 (--host-resolver-rules). The attacker's page is
// served from http://attacker.example:PORT by a page server on loopback; that server then
// goes away and the node's API takes the same port — the name now leads to the API, as after
// a DNS rebind — so the page's script is same-origin with the API. It reads the ledger and
// PUTs a hijacking record: it must get nothing and write nothing. A page at the API's own
// origin (127.0.0.1:PORT) can still read and write: the browser is not what stops the attack.
import { loopbackFlags, type RunningNode, spawnNode, stopAll } from "../../_helpers/mod.ts";
import assert from "node:assert/strict";
import type { Browser } from "playwright-core";
import { chromiumOrWarn, launchChromium } from "../../_helpers/chromium.ts";
import { generateToken } from "../../../src/token/token.ts";

const chromiumPresent = chromiumOrWarn("api_rebinding_test.ts");

/** The attacker's script: what it read and what its write got. */
const ATTACK_PAGE = `<!doctype html><title>cute cats</title><script>
window.attack = async () => {
  const out = {};
  try {
    const r = await fetch("/api/ledger");
    out.read = { status: r.status, body: await r.text() };
  } catch (e) { out.read = { status: 0, body: String(e) }; }
  try {
    const r = await fetch("/api/ledger/services/web", {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ PeerID: "12D3KooWHijackerHijackerHijackerHijackerHijacker", Name: "web" }),
    });
    out.write = { status: r.status, body: await r.text() };
  } catch (e) { out.write = { status: 0, body: String(e) }; }
  return out;
};
</script>`;

interface AttackResult {
  read: { status: number; body: string };
  write: { status: number; body: string };
}

Deno.test({
  name: "DNS rebinding in Chromium: a page named attacker.example reads nothing, writes nothing",
  ignore: !chromiumPresent,
  async fn() {
    let browser: Browser | undefined;
    let node: RunningNode | undefined;
    const pages = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      () => new Response(ATTACK_PAGE, { headers: { "content-type": "text/html" } }),
    );
    try {
      const port = pages.addr.port;
      browser = await launchChromium(["--host-resolver-rules=MAP attacker.example 127.0.0.1"]);
      const page = await browser.newPage();
      page.setDefaultTimeout(15_000);
      await page.goto(`http://attacker.example:${port}/`);
      // The rebind: the page server leaves, the API takes its port.
      await pages.shutdown();
      const flags = loopbackFlags();
      flags[flags.indexOf("--api-listen") + 1] = `127.0.0.1:${port}`;
      node = await spawnNode(["node", ...flags], { P2P_TOKEN: generateToken() });
      assert.equal(node.api, `http://127.0.0.1:${port}`);

      const attack = await page.evaluate(() =>
        (globalThis as unknown as { attack(): Promise<AttackResult> }).attack()
      );
      assert.equal(attack.read.status, 403, attack.read.body);
      assert.doesNotMatch(attack.read.body, /healthcheck/);
      assert.match(JSON.parse(attack.read.body).error, /Host "attacker\.example:\d+"/);
      assert.equal(attack.write.status, 403, attack.write.body);
      assert.equal((await fetch(`${node.api}/api/ledger/services/web`)).status, 404);
      // Nor does the dashboard itself open under the foreign name.
      const dashboard = await page.goto(`http://attacker.example:${port}/`);
      assert.equal(dashboard?.status(), 403);

      // Control: the API's own origin reads and writes in the same browser.
      const own = await browser.newPage();
      await own.goto(`${node.api}/`);
      const control = await own.evaluate(async () => {
        const read = await fetch("/api/ledger");
        const write = await fetch("/api/ledger/demo/from-the-dashboard", {
          method: "PUT",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ ok: true }),
        });
        return { read: read.status, write: write.status };
      });
      assert.deepEqual(control, { read: 200, write: 200 });
    } finally {
      await browser?.close().catch(() => {});
      await pages.shutdown().catch(() => {});
      await stopAll([node]);
    }
  },
});
