// `p2p demo` in Chromium with a load running, as the README shows it: the graph has the
// balancer in the centre and the three workers with a direct edge each, and every worker's
// charts move while clients connect.
//
// With P2P_UPDATE_SCREENSHOT=1 the load goes on for P2P_SCREENSHOT_LOAD_S seconds (default
// 180, a rate that rises and falls so the charts have a shape) before docs/dashboard.png is
// written from the top of the page; the assertions are the same either way.
import { P2PProcess, waitFor } from "../../_helpers/mod.ts";
import assert from "node:assert/strict";
import type { Browser, Page } from "playwright-core";
import { chromiumOrWarn, launchChromium, watchProblems } from "../../_helpers/chromium.ts";

const NAMES = ["alpha", "bravo", "charlie"];
const OUTPUT = new URL("../../../test-output/", import.meta.url);
const DOCS_SCREENSHOT = new URL("../../../docs/dashboard.png", import.meta.url);
const UPDATE = Deno.env.get("P2P_UPDATE_SCREENSHOT") === "1";

const chromiumPresent = chromiumOrWarn("dashboard_demo_test.ts");

// Browser globals used inside page.evaluate callbacks (checked without the DOM library).
// deno-lint-ignore no-explicit-any
declare const document: any;
declare const scrollY: number;

/**
 * Clients of the balancer until stopped: `concurrency` loops, each one connection per request
 * (as the balancer counts connections) with a body of a few KB, pausing `pauseMs()` between
 * requests so the load stays light on a shared machine.
 */
function startLoad(balancer: string, concurrency: number, pauseMs: () => number) {
  const client = Deno.createHttpClient({ poolMaxIdlePerHost: 0 });
  const stop = new AbortController();
  let answered = 0;
  const loop = async (): Promise<void> => {
    while (!stop.signal.aborted) {
      const body = "x".repeat(1024 + Math.floor(Math.random() * 6 * 1024));
      try {
        const response = await fetch(`http://${balancer}/`, {
          method: "POST",
          body,
          client,
          signal: AbortSignal.any([stop.signal, AbortSignal.timeout(5_000)]),
        });
        await response.text();
        if (response.ok) answered++;
      } catch {
        // stopped, or a slow answer: the next request goes on
      }
      await new Promise((resolve) => setTimeout(resolve, pauseMs()));
    }
  };
  const loops = Array.from({ length: concurrency }, loop);
  return {
    get answered() {
      return answered;
    },
    async stop(): Promise<void> {
      stop.abort();
      await Promise.allSettled(loops);
      client.close();
    },
  };
}

/** The demo's balancer and dashboard addresses, from its banner. */
async function demoAddresses(demo: P2PProcess): Promise<{ balancer: string; api: string }> {
  const address = (label: string) => {
    const line = demo.stdoutLines.find((l) => l.trimStart().startsWith(label));
    return line === undefined ? undefined : /http:\/\/(127\.0\.0\.1:\d+)\//.exec(line)?.[1];
  };
  return await waitFor(() => {
    const [balancer, api] = [address("try:"), address("dashboard:")];
    return balancer && api ? { balancer, api } : undefined;
  }, { timeoutMs: 20_000, intervalMs: 50, message: "the demo banner" });
}

/** Waits until every worker's connections/s line has a last value above 0, and returns its d. */
async function movingLines(page: Page): Promise<string[]> {
  const selector = (name: string) =>
    `[data-worker-card="${name}"] path.c-line[data-series="connectionsPerS"]`;
  for (const name of NAMES) {
    await page.waitForFunction(
      (s) => Number(document.querySelector(s)?.getAttribute("data-last")) > 0,
      selector(name),
    );
  }
  return Promise.all(NAMES.map(async (name) => (await page.getAttribute(selector(name), "d"))!));
}

Deno.test({
  name: "p2p demo in Chromium under load: balancer, three workers, direct edges, moving charts",
  ignore: !chromiumPresent,
  async fn() {
    const demo = new P2PProcess(["demo", "--listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0"]);
    let browser: Browser | undefined;
    let load: ReturnType<typeof startLoad> | undefined;
    try {
      const [{ balancer, api }, launched] = await Promise.all([
        demoAddresses(demo),
        launchChromium(),
      ]);
      browser = launched;
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      page.setDefaultTimeout(15_000);
      const problems = watchProblems(page);
      await page.goto(`http://${api}/`);
      const started = Date.now();
      load = startLoad(
        balancer,
        2,
        () => 30 + 60 * (0.5 + 0.5 * Math.sin((Date.now() - started) / 15_000)),
      );

      // The picture: this node (the balancer) and its three workers, a direct edge each.
      const self = (await page.waitForSelector('#graph [data-self="true"]'))!;
      const selfId = (await self.getAttribute("data-node"))!;
      assert.equal(await page.innerText("#node-id"), selfId);
      for (const name of NAMES) {
        await page.waitForSelector(
          `#graph [data-kind="worker"][data-state="online"]:has(text:text-is("${name}"))`,
        );
      }
      const workers = await page.locator('#graph [data-kind="worker"]').evaluateAll((els) =>
        els.map((e) => [e.querySelector("text")?.textContent, e.getAttribute("data-node")])
      );
      assert.deepEqual(workers.map(([name]) => name).sort(), NAMES);
      const edges = await page.locator("#graph [data-edge-to]").evaluateAll((els) =>
        els.map((
          e,
        ) => [
          e.getAttribute("data-edge-from"),
          e.getAttribute("data-edge-to"),
          e.getAttribute("data-path"),
        ])
      );
      assert.deepEqual(
        edges.sort(),
        workers.map(([, peer]) => [selfId, peer, "direct"]).sort(),
        "one direct edge from the balancer to each worker, nothing else",
      );

      // The charts move while the load runs: each line changes as new samples come in.
      const before = await movingLines(page);
      await page.waitForFunction(
        ([names, old]) =>
          names.every((name: string, i: number) =>
            document.querySelector(
              `[data-worker-card="${name}"] path.c-line[data-series="connectionsPerS"]`,
            )
              ?.getAttribute("d") !== old[i]
          ),
        [NAMES, before] as const,
      );
      assert.ok(load.answered > 0);
      assert.notEqual(await page.innerText("#tile-rate .value"), "–");
      assert.equal(
        await page.locator('[data-chart="overview-connections"] path.c-line').count(),
        3,
      );

      await Deno.mkdir(OUTPUT, { recursive: true });
      await page.screenshot({
        path: new URL("dashboard-demo.png", OUTPUT).pathname,
        fullPage: true,
      });
      if (UPDATE) {
        const seconds = Number(Deno.env.get("P2P_SCREENSHOT_LOAD_S") ?? 180);
        console.log(`running the load for ${seconds} s before the README screenshot`);
        await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
        const bottom = await page.evaluate(() => {
          const box = document.querySelector("#load").getBoundingClientRect();
          return Math.ceil(box.bottom + scrollY + 16);
        });
        await page.screenshot({
          path: DOCS_SCREENSHOT.pathname,
          fullPage: true,
          clip: { x: 0, y: 0, width: 1280, height: bottom },
        });
        console.log(`wrote ${DOCS_SCREENSHOT.pathname}`);
      }
      assert.deepEqual(problems, []);
    } finally {
      await load?.stop();
      await browser?.close().catch(() => {});
      await demo.stop("SIGINT", 10_000);
    }
  },
});
