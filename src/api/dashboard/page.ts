/**
 * The dashboard: one self-contained page (no build step, no CDN: it works offline). It polls
 * `/api/dashboard`, `/api/peers`, `/api/node` and `/api/history?since=` every second and draws
 * a summary, the network as an SVG graph, per-worker charts of the last 15 minutes and the
 * tables (the text view, for keyboards and screen readers). Every string from the network
 * (worker names, peer IDs, ledger buckets) reaches the DOM through `textContent` or
 * `setAttribute` only, never as HTML.
 *
 * With `--api-token`, the page itself is public (it holds no data) and asks for the token on
 * the first 401: kept in `sessionStorage` (this tab only, gone when it closes) and sent as
 * `Authorization: Bearer` with every fetch; a refused token clears it and says so.
 *
 * The pure parts (graph model and layout, chart arithmetic, history merging) are TypeScript
 * modules with unit tests; the page embeds their compiled source (`embed.ts`), so the
 * browser runs exactly the tested code, minified or not.
 */
import { CHART_MATH_SOURCE } from "./chart_math.ts";
import { embedFunctions } from "./embed.ts";
import { buildGraphModel } from "./graph_model.ts";
import { layoutGraph } from "./graph_layout.ts";
import { mergeHistory } from "./history_merge.ts";
import { APP_SCRIPT } from "./script_app.ts";
import { CHARTS_SCRIPT } from "./script_charts.ts";
import { GRAPH_SCRIPT } from "./script_graph.ts";
import { TABLES_SCRIPT } from "./script_tables.ts";
import { DASHBOARD_CSS } from "./styles.ts";

const BODY = `<header>
  <h1><span aria-hidden="true">◆</span> p2p</h1>
  <span class="meta" id="node-role"></span>
  <span class="meta" id="node-id">connecting…</span>
  <span id="status" role="status">loading</span>
</header>
<form id="login" hidden>
  <h2>This node's API needs its token</h2>
  <p id="login-message">Enter the token the node was started with (--api-token).</p>
  <input id="login-token" type="password" autocomplete="current-password" aria-label="API token" required>
  <button type="submit">Open the dashboard</button>
</form>
<main>
  <ul id="tiles" aria-label="Summary"></ul>
  <section id="network" class="graph" aria-labelledby="network-title">
    <h2 id="network-title">Network <small id="network-summary"></small></h2>
    <div id="graph"></div>
    <ul class="legend" id="graph-legend" aria-label="Legend"></ul>
  </section>
  <section id="overview" class="overview" aria-labelledby="overview-title">
    <h2 id="overview-title">Load <small>up to the last 15 minutes</small></h2>
    <div id="overview-charts"></div>
    <h3>Events</h3>
    <ol id="events" aria-label="Events, newest first"></ol>
  </section>
  <section id="load" class="wide" aria-labelledby="load-title">
    <h2 id="load-title">Workers <small>connections, bytes each way and connect latency per worker; same scales for all</small></h2>
    <div id="charts" class="charts"><p class="empty">No balancer on this node: per-worker load is shown on the node that runs p2p federated</p></div>
  </section>
  <section id="pools"><h2>Pools</h2><div id="pools-body"><p class="empty">No pools yet</p></div></section>
  <section id="federated"><h2>Federated connections</h2><div id="federated-body"><p class="empty">This node does not run p2p federated</p></div></section>
  <section id="peers" class="wide"><h2>Connected peers</h2><div id="peers-body"></div></section>
  <section id="ledger" class="narrow"><h2>Ledger</h2><div id="ledger-body"></div></section>
  <section id="node" class="broad"><h2>This node</h2><div id="node-body"></div></section>
</main>`;

const SCRIPT = [
  '"use strict";',
  embedFunctions({ buildGraphModel, layoutGraph, mergeHistory }),
  CHART_MATH_SOURCE,
  APP_SCRIPT,
  TABLES_SCRIPT,
  GRAPH_SCRIPT,
  CHARTS_SCRIPT,
  "start();",
].join("\n");
// The script is inline: a closing tag inside it would end it early.
if (/<\/script/i.test(SCRIPT)) {
  throw new Error("Cannot build the dashboard: its script contains </script");
}

/** The page served at `GET /`. */
export const DASHBOARD_HTML: string = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>p2p dashboard</title>
<link rel="icon" href="data:,">
<style>${DASHBOARD_CSS}</style>
</head>
<body>
${BODY}
<script>
${SCRIPT}
</script>
</body>
</html>
`;
