/**
 * The dashboard: one self-contained page (no build step, no CDN). It polls
 * `/api/dashboard` every second and builds the DOM with `textContent` only: worker names and
 * ledger buckets come from the network and must never be parsed as HTML.
 *
 * With `--api-token`, the page itself is public (it holds no data) and asks for the token on
 * the first 401: kept in `sessionStorage` (this tab only, gone when it closes) and sent as
 * `Authorization: Bearer` with every fetch; a refused token clears it and says so.
 */
export const DASHBOARD_HTML: string = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>p2p dashboard</title>
<link rel="icon" href="data:,">
<style>
  :root { --bg:#0f1419; --card:#182028; --line:#2a3540; --text:#e6edf3; --dim:#8b98a5;
          --ok:#3fb950; --off:#f85149; --accent:#58a6ff; }
  * { box-sizing: border-box; }
  body { margin:0; font:14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif;
         background:var(--bg); color:var(--text); }
  header { padding:16px 24px; border-bottom:1px solid var(--line); display:flex;
           align-items:baseline; gap:16px; flex-wrap:wrap; }
  header h1 { margin:0; font-size:20px; }
  header .meta { color:var(--dim); font-family:ui-monospace, monospace; font-size:12px; }
  main { padding:20px 24px; display:grid; gap:20px;
         grid-template-columns:repeat(auto-fit, minmax(420px, 1fr)); }
  section { background:var(--card); border:1px solid var(--line); border-radius:10px; padding:16px; }
  section h2 { margin:0 0 12px; font-size:15px; color:var(--accent); }
  table { width:100%; border-collapse:collapse; }
  th, td { text-align:left; padding:6px 8px; border-bottom:1px solid var(--line); vertical-align:top; }
  th { color:var(--dim); font-weight:500; font-size:12px; text-transform:uppercase; }
  td.mono, .mono { font-family:ui-monospace, monospace; font-size:12px; word-break:break-all; }
  p.summary { word-break:normal; }
  .badge { display:inline-block; padding:1px 8px; border-radius:999px; font-size:12px; font-weight:600; }
  .badge.online { background:rgba(63,185,80,.15); color:var(--ok); }
  .badge.offline { background:rgba(248,81,73,.15); color:var(--off); }
  .empty { color:var(--dim); font-style:italic; }
  .num { text-align:right; font-variant-numeric:tabular-nums; }
  #status { margin-left:auto; font-size:12px; color:var(--dim); }
  #status.error { color:var(--off); }
  #login { max-width:420px; margin:48px auto; background:var(--card); border:1px solid var(--line);
           border-radius:10px; padding:20px; display:grid; gap:12px; }
  #login[hidden], main[hidden] { display:none; }
  #login h2 { margin:0; font-size:16px; color:var(--accent); }
  #login p { margin:0; color:var(--dim); }
  #login p.error { color:var(--off); }
  #login input, #login button { font:inherit; padding:8px 10px; border-radius:6px;
           border:1px solid var(--line); background:var(--bg); color:var(--text); }
  #login button { background:var(--accent); color:#000; font-weight:600; cursor:pointer; }
</style>
</head>
<body>
<header>
  <h1>p2p</h1>
  <span class="meta" id="node-id">connecting…</span>
  <span class="meta" id="node-role"></span>
  <span id="status">loading</span>
</header>
<form id="login" hidden>
  <h2>This node's API needs its token</h2>
  <p id="login-message">Enter the token the node was started with (--api-token).</p>
  <input id="login-token" type="password" autocomplete="current-password" aria-label="API token" required>
  <button type="submit">Open the dashboard</button>
</form>
<main>
  <section id="pools"><h2>Pools</h2><div id="pools-body"><p class="empty">No pools yet</p></div></section>
  <section id="federated"><h2>Federated connections</h2><div id="federated-body"><p class="empty">This node does not run p2p federated</p></div></section>
  <section id="peers"><h2>Connected peers</h2><div id="peers-body"></div></section>
  <section id="ledger"><h2>Ledger</h2><div id="ledger-body"></div></section>
  <section id="node"><h2>This node</h2><div id="node-body"></div></section>
</main>
<script>
"use strict";
const el = (tag, attrs = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
};
const table = (headers, rows) => el("table", {},
  el("thead", {}, el("tr", {}, ...headers.map((h) => el("th", {}, h)))),
  el("tbody", {}, ...rows));
const empty = (text) => el("p", { class: "empty" }, text);
const ago = (ms) => ms < 1500 ? "just now" : ms < 90000 ? Math.round(ms / 1000) + " s ago" : Math.round(ms / 60000) + " min ago";
const bytes = (n) => n < 1024 ? n + " B" : n < 1048576 ? (n / 1024).toFixed(1) + " KiB" : (n / 1048576).toFixed(1) + " MiB";
let previous = null;
// The API token, for this tab only (sessionStorage), when the node requires one.
const TOKEN_KEY = "p2p-api-token";
let token = sessionStorage.getItem(TOKEN_KEY);
let timer = null;

function renderPools(pools, federated) {
  if (pools.length === 0) return [empty("No workers announced yet")];
  return pools.map((pool) => {
    const online = pool.workers.filter((w) => w.online).length;
    const rows = pool.workers.map((w) => el("tr", { "data-worker": w.name, "data-online": String(w.online) },
      el("td", {}, w.name), el("td", { class: "mono" }, w.id),
      el("td", {}, el("span", { class: "badge " + (w.online ? "online" : "offline") }, w.online ? "online" : "offline " + (w.offlineReason || ""))),
      el("td", {}, ago(w.receivedAgoMs)),
      el("td", { class: "num" }, w.activeConnections)));
    return el("div", { "data-pool": pool.bucket },
      el("h3", {}, pool.bucket + " — " + online + "/" + pool.workers.length + " online"),
      pool.workers.length ? table(["name", "id", "state", "last update", "active"], rows) : empty("empty"));
  });
}

function renderFederated(stats, at) {
  if (!stats) return [empty("This node does not run p2p federated")];
  const seconds = previous && previous.federated ? (at - previous.at) / 1000 : 0;
  const before = new Map((previous && previous.federated ? previous.federated.workers : []).map((w) => [w.id, w]));
  const rows = stats.workers.map((w) => {
    const old = before.get(w.id);
    const rate = old && seconds > 0 ? ((w.total - old.total) / seconds).toFixed(1) + "/s" : "–";
    return el("tr", { "data-federated-worker": w.name || w.id },
      el("td", {}, w.name || w.id), el("td", { class: "num" }, w.active), el("td", { class: "num" }, w.total),
      el("td", { class: "num" }, rate), el("td", { class: "num" }, w.failed),
      el("td", { class: "num" }, bytes(w.bytesSent) + " / " + bytes(w.bytesReceived)));
  });
  return [
    el("p", { class: "mono summary" }, "listening on " + stats.listen + " · " + stats.strategy + " · accepted " + stats.accepted +
      " · waiting " + stats.waiting + " · refused " + stats.refused + " · 503 " + stats.noWorker + " · failovers " + stats.failovers),
    rows.length ? table(["worker", "active", "total", "rate", "failed", "in / out"], rows) : empty("No connections yet"),
  ];
}

function render(data) {
  document.getElementById("node-id").textContent = data.node.peerId;
  document.getElementById("node-role").textContent = "p2p " + data.node.role + " · v" + data.node.version;
  document.getElementById("pools-body").replaceChildren(...renderPools(data.pools, data.federated));
  document.getElementById("federated-body").replaceChildren(...renderFederated(data.federated, data.at));
  document.getElementById("peers-body").replaceChildren(data.peers.length
    ? table(["peer", "address", "direction"], data.peers.map((p) => el("tr", {},
        el("td", { class: "mono" }, p.peerId), el("td", { class: "mono" }, p.address), el("td", {}, p.direction))))
    : empty("No peers connected"));
  document.getElementById("ledger-body").replaceChildren(data.ledger.length
    ? table(["bucket", "keys"], data.ledger.map((b) => el("tr", { "data-bucket": b.bucket },
        el("td", { class: "mono" }, b.bucket), el("td", { class: "num" }, b.keys))))
    : empty("Empty ledger"));
  document.getElementById("node-body").replaceChildren(table(["field", "value"], [
    el("tr", {}, el("td", {}, "uptime"), el("td", {}, data.node.uptimeS + " s")),
    el("tr", {}, el("td", {}, "ledger block"), el("td", {}, "#" + data.node.ledgerIndex)),
    ...data.node.addresses.map((a) => el("tr", {}, el("td", {}, "address"), el("td", { class: "mono" }, a))),
  ]));
  previous = data;
}

/** Hides every figure and asks for the token; polling stops until it is given. */
function askForToken(message, isError) {
  token = null;
  sessionStorage.removeItem(TOKEN_KEY);
  previous = null;
  document.querySelector("main").hidden = true;
  document.getElementById("node-id").textContent = "locked";
  document.getElementById("node-role").textContent = "";
  for (const id of ["pools-body", "federated-body", "peers-body", "ledger-body", "node-body"]) {
    document.getElementById(id).replaceChildren();
  }
  const text = document.getElementById("login-message");
  text.textContent = message;
  text.className = isError ? "error" : "";
  document.getElementById("status").textContent = "locked";
  document.getElementById("login").hidden = false;
  document.getElementById("login-token").focus();
}

document.getElementById("login").addEventListener("submit", (event) => {
  event.preventDefault();
  const input = document.getElementById("login-token");
  token = input.value.trim();
  input.value = "";
  if (token === "") return;
  sessionStorage.setItem(TOKEN_KEY, token);
  document.getElementById("login").hidden = true;
  document.querySelector("main").hidden = false;
  refresh();
});

async function refresh() {
  clearTimeout(timer);
  const status = document.getElementById("status");
  try {
    const headers = token ? { authorization: "Bearer " + token } : {};
    const response = await fetch("api/dashboard", { cache: "no-store", headers });
    if (response.status === 401) {
      askForToken(token
        ? "Wrong token: the node refused it. Enter the token it was started with (--api-token)."
        : "Enter the token the node was started with (--api-token).", Boolean(token));
      return;
    }
    if (!response.ok) throw new Error("HTTP " + response.status);
    render(await response.json());
    status.textContent = "live · updated " + new Date().toLocaleTimeString();
    status.className = "";
  } catch (err) {
    status.textContent = "cannot reach the node (" + err.message + ")";
    status.className = "error";
  }
  timer = setTimeout(refresh, 1000);
}
refresh();
</script>
</body>
</html>
`;
