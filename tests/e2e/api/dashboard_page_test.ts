// The dashboard page in Chromium against a synthetic node (see _dashboard_synthetic.ts): 50
// nodes stay readable (real text boxes, no overlap), edges are styled by path (direct,
// relayed via a relay, limited) from NAT traversal's fields, hostile names stay text, NAT
// fields of /api/node are shown, charts mark events and move, light and dark themes follow
// the system, and a phone-width screen does not scroll sideways.
import assert from "node:assert/strict";
import type { Browser, Page } from "playwright-core";
import { chromiumOrWarn, launchChromium, watchProblems } from "../../_helpers/chromium.ts";
import {
  DIRECT,
  LIMITED,
  ORIGIN,
  RELAY,
  RELAYED,
  serveSynthetic,
  SyntheticNode,
  XSS_BUCKET,
  XSS_MEMBER,
  XSS_WORKER,
} from "./_dashboard_synthetic.ts";

// Browser globals used inside page.evaluate callbacks (the tests are checked without the DOM
// library; these run in Chromium).
// deno-lint-ignore no-explicit-any
declare const document: any;
// deno-lint-ignore no-explicit-any
declare const getComputedStyle: any;
// deno-lint-ignore no-explicit-any
declare const DOMPoint: any;
declare const innerWidth: number;

const chromiumPresent = chromiumOrWarn("dashboard_page_test.ts");
const OUTPUT = new URL("../../../test-output/", import.meta.url);
// With P2P_UPDATE_SCREENSHOT=1, the 50-node picture (dark theme) for the README.
const DOCS_NETWORK = new URL("../../../docs/dashboard-50-nodes.png", import.meta.url);

async function open(
  browser: Browser,
  node: SyntheticNode,
  options: Parameters<Browser["newPage"]>[0] = {},
): Promise<{ page: Page; problems: string[]; asked: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, ...options });
  page.setDefaultTimeout(10_000);
  const problems = watchProblems(page);
  const asked = await serveSynthetic(page, node);
  await page.goto(`${ORIGIN}/`);
  await page.waitForSelector("#status.live");
  await page.waitForSelector("#graph svg");
  return { page, problems, asked };
}

/**
 * Pairs of overlapping boxes among the graph's texts and circles, measured in the browser:
 * each element's own box (getBBox) through its transform into the SVG's user space (rotations
 * included), tested as polygons (separating axes). Also the ones sticking out of the viewBox.
 */
function graphCollisions(page: Page): Promise<{ overlaps: string[]; outside: string[] }> {
  return page.evaluate(() => {
    type Quad = [number, number][];
    const root = document.querySelector("#graph svg");
    const rootMatrix = root.getScreenCTM()!.inverse();
    // deno-lint-ignore no-explicit-any
    const quadOf = (el: any): Quad => {
      const box = el.getBBox();
      const m = rootMatrix.multiply(el.getScreenCTM()!);
      return [[box.x, box.y], [box.x + box.width, box.y], [box.x + box.width, box.y + box.height], [
        box.x,
        box.y + box.height,
      ]].map(([x, y]) => {
        const p = new DOMPoint(x, y).matrixTransform(m);
        return [p.x, p.y] as [number, number];
      });
    };
    const overlap = (a: Quad, b: Quad): boolean => {
      for (const quad of [a, b]) {
        for (let i = 0; i < quad.length; i++) {
          const [x1, y1] = quad[i]!;
          const [x2, y2] = quad[(i + 1) % quad.length]!;
          const axis = [y1 - y2, x2 - x1];
          const pa = a.map(([x, y]) => x * axis[0]! + y * axis[1]!);
          const pb = b.map(([x, y]) => x * axis[0]! + y * axis[1]!);
          // 0.5 user units of tolerance: glyph boxes include some empty ascent.
          if (
            Math.max(...pa) <= Math.min(...pb) + 0.5 || Math.max(...pb) <= Math.min(...pa) + 0.5
          ) {
            return false;
          }
        }
      }
      return true;
    };
    // deno-lint-ignore no-explicit-any
    const items = [...root.querySelectorAll("text, circle")].map((el: any) => ({
      el,
      name: `${el.tagName} ${
        el.closest("[data-node]")?.getAttribute("data-node") ?? el.textContent
      }`,
      quad: quadOf(el),
    }));
    const view = root.viewBox.baseVal;
    const outside = items.filter(({ quad }) =>
      quad.some(([x, y]) =>
        x < view.x - 0.5 || y < view.y - 0.5 || x > view.x + view.width + 0.5 ||
        y > view.y + view.height + 0.5
      )
    ).map((i) => i.name);
    const overlaps: string[] = [];
    for (let i = 0; i < items.length; i++) {
      for (let j = i + 1; j < items.length; j++) {
        const [a, b] = [items[i]!, items[j]!];
        // A node's label sits next to its own circle.
        if (a.el.parentNode === b.el.parentNode && a.el.closest("[data-node]")) continue;
        if (overlap(a.quad, b.quad)) overlaps.push(`${a.name} × ${b.name}`);
      }
    }
    return { overlaps, outside };
  });
}

Deno.test({
  name: "dashboard page in Chromium: 50 nodes readable, edges by path, NAT fields, no XSS",
  ignore: !chromiumPresent,
  async fn() {
    let browser: Browser | undefined;
    try {
      browser = await launchChromium();
      const node = new SyntheticNode();
      node.node = {
        ...node.node,
        reachability: "private",
        announced: ["/ip4/203.0.113.7/tcp/4001"],
        verified: [],
        reservations: [`/p2p/${RELAY}/p2p-circuit`],
      };
      const { page, problems } = await open(browser, node);

      // 50 nodes around this one, in four groups, radial labels.
      assert.equal(await page.getAttribute("#graph svg", "data-mode"), "radial");
      assert.equal(await page.locator("#graph [data-node]").count(), 51);
      assert.equal(await page.locator('#graph [data-self="true"]').count(), 1);
      const groups = await page.locator("#graph [data-group-label]").evaluateAll((els) =>
        els.map((e) => e.getAttribute("data-group-label"))
      );
      assert.deepEqual(groups, ["federated", "worker", "peers", "members"]);
      assert.equal(await page.locator('#graph [data-group="federated"]').count(), 20);
      assert.equal(
        await page.locator('#graph [data-kind="worker"][data-state="offline"]').count(),
        4,
      );
      const { overlaps, outside } = await graphCollisions(page);
      assert.deepEqual(overlaps, [], "texts and circles of the graph overlap");
      assert.deepEqual(outside, [], "graph elements outside the SVG");

      // Edges: 28 online workers and 10 peers; the relayed one from its relay.
      assert.equal(await page.locator("#graph [data-edge-to]").count(), 38);
      const edge = (to: string) => page.locator(`#graph [data-edge-to="${to}"]`);
      assert.equal(await edge(RELAYED).getAttribute("data-path"), "relayed");
      assert.equal(await edge(RELAYED).getAttribute("data-edge-from"), RELAY);
      assert.equal(await edge(LIMITED).getAttribute("data-path"), "limited");
      assert.equal(await edge(DIRECT).getAttribute("data-path"), "direct");
      assert.equal(await edge(RELAY).getAttribute("data-path"), "direct");
      const style = (to: string) =>
        edge(to).evaluate((e) => {
          const s = getComputedStyle(e);
          return { dash: s.strokeDasharray, color: s.stroke };
        });
      const [direct, relayed, limited] = await Promise.all([DIRECT, RELAYED, LIMITED].map(style));
      assert.equal(direct!.dash, "none");
      assert.notEqual(relayed!.dash, "none");
      assert.notEqual(limited!.dash, "none");
      assert.notEqual(relayed!.dash, limited!.dash);
      assert.equal(new Set([direct!.color, relayed!.color, limited!.color]).size, 3);
      // The same paths in the text view.
      const pathCell = (peer: string) => page.innerText(`#peers-body [data-peer="${peer}"] .badge`);
      assert.equal(await pathCell(RELAYED), `relayed via …${RELAY.slice(-6)}`);
      assert.equal(await pathCell(LIMITED), `limited via …${RELAY.slice(-6)}`);
      assert.equal(await pathCell(DIRECT), "direct");

      // NAT traversal's node fields, shown when present.
      assert.equal(await page.innerText("#tile-reachability .value"), "private");
      assert.equal(
        await page.innerText('#node-body [data-field="announced"] td:nth-child(2)'),
        "/ip4/203.0.113.7/tcp/4001",
      );
      assert.equal(
        await page.innerText('#node-body [data-field="verified"] td:nth-child(2)'),
        "none",
      );
      assert.match(await page.innerText('#node-body [data-field="reservations"]'), /p2p-circuit/);

      // Hostile names are text: no element made from them, no script run.
      assert.equal(await page.evaluate(() => (window as { __xss?: string }).__xss), undefined);
      assert.equal(await page.locator("img").count(), 0);
      assert.equal(await page.locator("script").count(), 1);
      assert.equal(await page.locator("#pools-body svg, #ledger-body svg").count(), 0);
      assert.match(await page.innerText("#pools-body"), new RegExp(escape(XSS_WORKER)));
      assert.match(await page.innerText("#ledger-body"), new RegExp(escape(XSS_BUCKET)));
      const titles = await page.locator("#graph title").allTextContents();
      assert.ok(titles.some((t) => t.includes(XSS_MEMBER)), "the hostile member in a tooltip");
      assert.ok(titles.some((t) => t.includes(XSS_WORKER)), "the hostile worker in a tooltip");

      await Deno.mkdir(OUTPUT, { recursive: true });
      await page.screenshot({
        path: new URL("dashboard-50-nodes.png", OUTPUT).pathname,
        fullPage: true,
      });
      if (Deno.env.get("P2P_UPDATE_SCREENSHOT") === "1") {
        const dark = await open(browser, node, { colorScheme: "dark" });
        await dark.page.locator("#network").screenshot({ path: DOCS_NETWORK.pathname });
        console.log(`wrote ${DOCS_NETWORK.pathname}`);
      }
      assert.deepEqual(problems, []);
    } finally {
      await browser?.close().catch(() => {});
    }
  },
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

Deno.test({
  name: "dashboard page in Chromium: events on the time axis, charts that move, no NAT fields",
  ignore: !chromiumPresent,
  async fn() {
    let browser: Browser | undefined;
    try {
      browser = await launchChromium();
      const node = new SyntheticNode();
      const { page, problems, asked } = await open(browser, node);
      const [first, second] = node.charted.map((w) => w.name);
      const card = (name: string) => `[data-worker-card="${name}"]`;
      await page.waitForSelector(card(first!));
      assert.equal(await page.locator("[data-worker-card]").count(), 5);

      // bravo's offline, failover and online moments on its own charts, not on alpha's.
      const marks = (name: string) =>
        page.locator(`${card(name)} svg:first-of-type line[data-event-kind]`).evaluateAll((els) =>
          els.map((e) => [e.getAttribute("data-event-kind"), Number(e.getAttribute("x1"))])
        );
      const secondMarks = await page.locator(`${card(second!)} .chart-row`).first()
        .locator("line[data-event-kind]").evaluateAll((els) =>
          els.map((e) => [e.getAttribute("data-event-kind"), Number(e.getAttribute("x1"))])
        );
      assert.deepEqual(secondMarks.map(([kind]) => kind), ["offline", "failover", "online"]);
      // In time order along the axis.
      const xs = secondMarks.map(([, x]) => x as number);
      assert.ok(xs[0]! < xs[1]! && xs[1]! < xs[2]!, JSON.stringify(xs));
      assert.deepEqual(await marks(first!), []);
      assert.equal(
        await page.locator('[data-chart="overview-connections"] line[data-event-kind]').count(),
        3,
      );
      const events = await page.locator("#events li").allInnerTexts();
      assert.equal(events.length, 3);
      assert.match(events[0]!, new RegExp(`${second} online`));
      assert.match(events[1]!, new RegExp(`failover ×2 away from ${second}`));
      assert.match(events[2]!, new RegExp(`${second} offline: disconnected`));
      // Its two minutes offline are a gap in its line (two runs), not a slope.
      const d = await page.getAttribute(
        `${card(second!)} path[data-series="connectionsPerS"]`,
        "d",
      );
      assert.equal(d?.match(/M/g)?.length, 2, d ?? "");

      // The history is fetched once whole, then only what is new; the lines move with it.
      const path = `${card(first!)} path.c-line[data-series="connectionsPerS"]`;
      const before = await page.getAttribute(path, "d");
      await page.waitForFunction(
        ([selector, old]) => document.querySelector(selector!)?.getAttribute("d") !== old,
        [path, before],
        { timeout: 10_000 },
      );
      const historyFetches = asked.filter((a) => a.startsWith("/api/history"));
      assert.equal(historyFetches[0], "/api/history");
      assert.match(historyFetches[1] ?? "", /^\/api\/history\?since=\d+$/);

      // Without NAT fields: no reachability tile, uptime instead; every path direct.
      assert.equal(await page.locator("#tile-reachability").count(), 0);
      assert.equal(await page.innerText("#tile-uptime .value"), "60 min");
      assert.deepEqual(problems, []);
    } finally {
      await browser?.close().catch(() => {});
    }
  },
});

Deno.test({
  name: "dashboard page in Chromium: light and dark themes from the system; phone width",
  ignore: !chromiumPresent,
  async fn() {
    let browser: Browser | undefined;
    try {
      browser = await launchChromium();
      const node = new SyntheticNode({ workers: 3, peers: 0, members: 0 });
      const background = (page: Page) =>
        page.evaluate(() => getComputedStyle(document.body).backgroundColor);
      const light = await open(browser, node, { colorScheme: "light" });
      const dark = await open(browser, node, { colorScheme: "dark" });
      assert.equal(await background(light.page), "rgb(244, 246, 248)");
      assert.equal(await background(dark.page), "rgb(13, 17, 23)");
      // Text stays readable on both: light text on dark, dark on light.
      const text = (page: Page) => page.evaluate(() => getComputedStyle(document.body).color);
      assert.equal(await text(light.page), "rgb(23, 32, 42)");
      assert.equal(await text(dark.page), "rgb(230, 237, 243)");

      const phone = await open(browser, node, {
        viewport: { width: 390, height: 844 },
        isMobile: true,
        hasTouch: true,
      });
      await phone.page.waitForSelector("[data-worker-card]");
      const layout = await phone.page.evaluate(() => ({
        scroll: document.documentElement.scrollWidth,
        width: innerWidth,
        // deno-lint-ignore no-explicit-any
        lefts: [...document.querySelectorAll("main > section")].map((s: any) =>
          Math.round(s.getBoundingClientRect().left)
        ),
      }));
      assert.ok(
        layout.scroll <= layout.width,
        `page ${layout.scroll} px wide on a ${layout.width} px screen`,
      );
      assert.equal(new Set(layout.lefts).size, 1, "one column");
      // The text view: every table has a caption and column headers.
      const tables = await phone.page.locator("main table").evaluateAll((els) =>
        els.map((
          t,
        ) => [
          Boolean(t.querySelector("caption")?.textContent),
          t.querySelectorAll("th[scope=col]").length > 0,
        ])
      );
      assert.ok(tables.length >= 4);
      assert.ok(tables.every(([caption, headers]) => caption && headers), JSON.stringify(tables));
      await phone.page.screenshot({
        path: new URL("dashboard-phone.png", OUTPUT).pathname,
        fullPage: true,
      });
      for (const { problems } of [light, dark, phone]) assert.deepEqual(problems, []);
    } finally {
      await browser?.close().catch(() => {});
    }
  },
});
