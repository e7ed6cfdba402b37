// Issue 14 point 12: the dashboard of a node started with an API token (here from
// --api-token-file), in Chromium. Without the token the page shows a login form and nothing
// of the node; a wrong token says so; the right one opens the dashboard, is sent as a bearer
// with every fetch, and lasts for the tab (a reload stays in, a new tab asks again).
import { loopbackFlags, type RunningNode, spawnNode, stopAll } from "../../_helpers/mod.ts";
import assert from "node:assert/strict";
import type { Browser, Page } from "playwright-core";
import { chromiumOrWarn, launchChromium } from "../../_helpers/chromium.ts";
import { generateToken } from "../../../src/token/token.ts";

const chromiumPresent = chromiumOrWarn("dashboard_login_test.ts");
const API_TOKEN = "correct-horse-battery-staple";

/** Waits for the login form and checks nothing of the node is on the page. */
async function assertLocked(page: Page, node: RunningNode): Promise<void> {
  await page.waitForSelector("#login:not([hidden])");
  assert.equal(await page.isHidden("main"), true);
  assert.equal(await page.innerText("#node-id"), "locked");
  assert.doesNotMatch(await page.content(), new RegExp(node.start.peerId));
}

Deno.test({
  name: "dashboard with an API token in Chromium: login form, wrong token message, bearer fetches",
  ignore: !chromiumPresent,
  async fn() {
    let browser: Browser | undefined;
    let node: RunningNode | undefined;
    const dir = await Deno.makeTempDir();
    try {
      const tokenFile = `${dir}/api-token`;
      await Deno.writeTextFile(tokenFile, `${API_TOKEN}\n`, { mode: 0o600 });
      [node, browser] = await Promise.all([
        spawnNode(["node", ...loopbackFlags(), "--api-token-file", tokenFile], {
          P2P_TOKEN: generateToken(),
        }),
        launchChromium(),
      ]);
      const page = await browser.newPage();
      page.setDefaultTimeout(15_000);
      const dashboardFetches: (string | undefined)[] = [];
      // Every API fetch of the page (dashboard, peers, node, history), with its bearer.
      const apiFetches: [string, string | undefined][] = [];
      page.on("request", (request) => {
        const path = new URL(request.url()).pathname;
        if (path.startsWith("/api/")) apiFetches.push([path, request.headers()["authorization"]]);
        if (request.url().endsWith("/api/dashboard")) {
          dashboardFetches.push(request.headers()["authorization"]);
        }
      });

      const response = await page.goto(`${node.api}/`);
      assert.equal(response?.status(), 200);
      await assertLocked(page, node);
      assert.deepEqual(dashboardFetches, [undefined]);
      // Locked, the page asks for nothing else (no charts or graph data without the token).
      assert.deepEqual(apiFetches, [["/api/dashboard", undefined]]);

      // A wrong token: a clear message, still nothing shown, nothing kept.
      await page.fill("#login-token", "wrong-token");
      await page.click("#login button");
      await page.waitForSelector("#login-message.error");
      assert.match(await page.innerText("#login-message"), /^Wrong token/);
      await assertLocked(page, node);
      assert.equal(await page.evaluate(() => sessionStorage.length), 0);

      // The right token opens the dashboard.
      await page.fill("#login-token", API_TOKEN);
      await page.click("#login button");
      await page.waitForSelector(`#node-id:text-is("${node.start.peerId}")`);
      assert.equal(await page.isHidden("#login"), true);
      assert.equal(await page.isVisible("main"), true);
      // Polling goes on with the bearer on every fetch.
      const seen = dashboardFetches.length;
      await page.waitForSelector('#status:text-matches("^live")');
      await page.waitForRequest((r) => r.url().endsWith("/api/dashboard"));
      const after = dashboardFetches.slice(2);
      assert.ok(dashboardFetches.length > seen);
      assert.ok(after.length >= 2, JSON.stringify(dashboardFetches));
      assert.ok(after.every((a) => a === `Bearer ${API_TOKEN}`), JSON.stringify(after));
      // The graph and the charts have their data: every route was fetched with the bearer.
      await page.waitForSelector(`#graph [data-self="true"][data-node="${node.start.peerId}"]`);
      await page.waitForSelector('#tiles [id="tile-peers"]');
      const right = apiFetches.findIndex(([, a]) => a === `Bearer ${API_TOKEN}`);
      // Before the right token: only the two refused dashboard fetches.
      assert.deepEqual(apiFetches.slice(0, right), [
        ["/api/dashboard", undefined],
        ["/api/dashboard", "Bearer wrong-token"],
      ]);
      const opened = apiFetches.slice(right);
      const paths = new Set(opened.map(([path]) => path));
      for (const path of ["/api/dashboard", "/api/peers", "/api/node", "/api/history"]) {
        assert.ok(paths.has(path), `${path} fetched: ${JSON.stringify([...paths])}`);
      }
      assert.ok(opened.every(([, a]) => a === `Bearer ${API_TOKEN}`), JSON.stringify(opened));

      // The token lasts for the tab: a reload stays in; a fresh tab asks again.
      await page.reload();
      await page.waitForSelector(`#node-id:text-is("${node.start.peerId}")`);
      assert.equal(await page.isHidden("#login"), true);
      const fresh = await browser.newPage();
      await fresh.goto(`${node.api}/`);
      await assertLocked(fresh, node);
    } finally {
      await browser?.close().catch(() => {});
      await stopAll([node]);
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
