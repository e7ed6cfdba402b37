// The dashboard page in a real browser (Chromium through playwright-core) against running
// `p2p` processes: it loads cleanly, shows the workers by name as online, and reflects a
// worker killed with SIGKILL within seconds. Skipped when /usr/bin/chromium is absent.
//
// The graph shows the balancer and its three workers with a direct edge each; after the kill,
// the worker's node turns offline, its edge goes, and the event is on its charts' time axis.
// Screenshots go to test-output/ (docs/dashboard.png comes from the demo's test).
import { waitFor } from "../../_helpers/mod.ts";
import assert from "node:assert/strict";
import type { Browser } from "playwright-core";
import { chromiumOrWarn, launchChromium, watchProblems } from "../../_helpers/chromium.ts";
import { getOnce, NODE_TEST, startTestNetwork, type TestNetwork } from "./_fixtures.ts";

const NAMES = ["alpha", "bravo", "charlie"];
const OUTPUT = new URL("../../../test-output/", import.meta.url);

const chromiumPresent = chromiumOrWarn("dashboard_test.ts");

const row = (name: string, online: boolean): string =>
  `[data-pool="federated"] [data-worker="${name}"][data-online="${online}"]`;

Deno.test({
  name: "dashboard in Chromium: three workers online by name; kill -9 of one shows it offline",
  ignore: !chromiumPresent,
  ...NODE_TEST,
  async fn() {
    let net: TestNetwork | undefined;
    let browser: Browser | undefined;
    try {
      [net, browser] = await Promise.all([
        startTestNetwork(NAMES.map((name) => ({ name }))),
        launchChromium(),
      ]);
      const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
      page.setDefaultTimeout(15_000);
      const problems = watchProblems(page);

      const response = await page.goto(`${net.seed.api}/`, { waitUntil: "load" });
      assert.equal(response?.status(), 200);
      assert.equal(await page.title(), "p2p dashboard");

      // The three workers, by name, online.
      for (const name of NAMES) {
        await page.waitForSelector(row(name, true));
        // The page re-renders every second: read the cells in one go, not through a handle.
        const cells = await page.locator(`${row(name, true)} td`).allTextContents();
        assert.equal(cells[0], name);
        assert.equal(cells[2], "online");
      }
      assert.equal(
        (await page.innerText('[data-pool="federated"] h3')).trim(),
        "federated — 3/3 online",
      );
      assert.equal(await page.innerText("#node-id"), net.seed.start.peerId);

      // Some traffic through the balancer shows up in the federated table.
      for (let i = 0; i < 6; i++) assert.equal((await getOnce(net.balancer)).status, 200);
      for (const name of NAMES) await page.waitForSelector(`[data-federated-worker="${name}"]`);
      await waitFor(async () => /accepted 6\b/.test(await page.innerText("#federated-body")), {
        timeoutMs: 5_000,
        message: "accepted 6 on the page",
      });
      await page.waitForSelector("#status:not(.error)");

      await Deno.mkdir(OUTPUT, { recursive: true });
      await page.screenshot({ path: new URL("dashboard.png", OUTPUT).pathname, fullPage: true });

      // The graph: this node in the centre, a direct edge to each worker's peer.
      const self = net.seed.start.peerId;
      assert.equal(await page.getAttribute('#graph [data-self="true"]', "data-node"), self);
      for (const worker of net.workers) {
        const peer = worker.node.start.peerId;
        const node = `#graph [data-node="${peer}"][data-kind="worker"]`;
        await page.waitForSelector(`${node}[data-state="online"]`);
        assert.equal(await page.locator(`${node} text`).textContent(), worker.name);
        const edge = `#graph [data-edge-from="${self}"][data-edge-to="${peer}"]`;
        assert.equal(await page.getAttribute(edge, "data-path"), "direct");
      }
      assert.equal(await page.locator("#graph [data-edge-to]").count(), NAMES.length);

      // kill -9 one worker: its row turns offline within a few seconds, the others stay.
      const victim = net.workers.find((w) => w.name === "bravo")!;
      const killedAt = performance.now();
      victim.node.process.child.kill("SIGKILL");
      await page.waitForSelector(row("bravo", false), { timeout: 5_000 });
      const ms = performance.now() - killedAt;
      console.log(`kill -9 of worker bravo → offline on the dashboard after ${ms.toFixed(0)} ms`);
      const cells = await page.locator(`${row("bravo", false)} td`).allTextContents();
      assert.deepEqual(cells.slice(0, 1), ["bravo"]);
      assert.match(cells[2] ?? "", /^offline/);
      // The others are shown online. (Bounded wait, not an instant check: on a loaded machine a
      // single late liveness ping can mark a healthy worker offline for a moment.)
      await waitFor(async () => {
        const header = (await page.innerText('[data-pool="federated"] h3')).trim();
        const online = await page.locator('[data-pool="federated"] [data-online="true"]')
          .evaluateAll((rows) => rows.map((r) => r.getAttribute("data-worker")));
        return header === "federated — 2/3 online" && online.join() === "alpha,charlie";
      }, { timeoutMs: 10_000, intervalMs: 100, message: "alpha and charlie online, bravo not" });
      // In the picture: bravo's node offline, its edge gone (its connection closed).
      const bravo = victim.node.start.peerId;
      await page.waitForSelector(`#graph [data-node="${bravo}"][data-state="offline"]`);
      await page.waitForSelector(`#graph [data-edge-to="${bravo}"]`, { state: "detached" });
      // On the time axis: the event in the list and on bravo's charts, not on alpha's.
      await page.waitForSelector('#events li[data-event-kind="offline"]:has-text("bravo offline")');
      // (A vertical line has no width: attached, not "visible".)
      await page.waitForSelector('[data-worker-card="bravo"] line[data-event-kind="offline"]', {
        state: "attached",
      });
      assert.equal(
        await page.locator('[data-worker-card="alpha"] line[data-event-kind="offline"]').count(),
        0,
      );
      await page.screenshot({ path: new URL("dashboard-offline.png", OUTPUT).pathname });

      assert.deepEqual(problems, []);
    } finally {
      await browser?.close().catch(() => {});
      await net?.stop();
    }
  },
});
