// The assembled page, without a browser (so these hold where Chromium is missing): its script
// compiles, it never parses text as HTML, and it loads nothing from elsewhere (no CDN: the
// node serves everything, and the page works offline).
import assert from "node:assert/strict";
import { DASHBOARD_HTML } from "../../../src/api/dashboard/page.ts";

const script = /<script>\n([\s\S]*)\n<\/script>/.exec(DASHBOARD_HTML)?.[1] ?? "";

Deno.test("dashboard page: one inline script that compiles, ending with start()", () => {
  assert.equal(DASHBOARD_HTML.match(/<script\b/g)?.length, 1);
  assert.ok(script.length > 1000);
  // Compiled, not run: a syntax error in any embedded part fails here.
  assert.doesNotThrow(() => new Function(script));
  assert.match(script, /\nstart\(\);$/);
  for (const name of ["buildGraphModel", "layoutGraph", "mergeHistory", "seriesPath"]) {
    assert.match(script, new RegExp(`\\bfunction ${name}\\(`), name);
  }
});

Deno.test("dashboard page: no HTML parsing of data, no external resource", () => {
  for (const sink of ["innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("]) {
    assert.ok(!DASHBOARD_HTML.includes(sink), sink);
  }
  const urls = DASHBOARD_HTML.match(/\bhttps?:\/\/[^\s"'<>)]+/g) ?? [];
  // The SVG namespace is a name, not a fetch.
  assert.deepEqual([...new Set(urls)], ["http://www.w3.org/2000/svg"]);
  assert.doesNotMatch(DASHBOARD_HTML, /<(link|img|iframe)\b[^>]*\b(href|src)="(?!data:)/);
});
