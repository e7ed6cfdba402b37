/**
 * The page's core (browser JavaScript): DOM helpers that only ever create text nodes, the
 * poll loop, the token login, and the dispatch to each view. Each view renders on its own, so
 * a failure in one (logged) leaves the others and the tables up to date.
 */
export const APP_SCRIPT: string = String.raw`
const SVG_NS = "http://www.w3.org/2000/svg";
const HORIZON_MS = 15 * 60 * 1000;
const POLL_MS = 1000;
// The API token, for this tab only (sessionStorage), when the node requires one.
const TOKEN_KEY = "p2p-api-token";
let token = sessionStorage.getItem(TOKEN_KEY);
let timer = null;
let previous = null;
let history = null;

/** An HTML element; children are nodes or text (never parsed as HTML). */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) node.setAttribute(k, String(v));
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}
/** An SVG element, the same way. */
function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) node.setAttribute(k, String(v));
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}
const empty = (text) => el("p", { class: "empty" }, text);
const ago = (ms) => ms < 1500 ? "just now" : ms < 90000 ? Math.round(ms / 1000) + " s ago" : Math.round(ms / 60000) + " min ago";
const bytes = (n) => n < 1024 ? n + " B" : n < 1048576 ? (n / 1024).toFixed(1) + " KiB" : (n / 1048576).toFixed(1) + " MiB";
const clock = (ms) => new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
const duration = (s) => s < 120 ? s + " s" : s < 7200 ? Math.round(s / 60) + " min" : s < 172800 ? (s / 3600).toFixed(1) + " h" : Math.round(s / 86400) + " d";

class Unauthorized extends Error {}

async function getJson(path) {
  const headers = token ? { authorization: "Bearer " + token } : {};
  const response = await fetch(path, { cache: "no-store", headers });
  if (response.status === 401) throw new Unauthorized(path);
  if (!response.ok) throw new Error("HTTP " + response.status + " for " + path);
  return response.json();
}

/** Runs one view; a broken view is logged and leaves the others alone. */
function view(name, draw) {
  try {
    draw();
  } catch (err) {
    console.error("Cannot draw the " + name + ": " + (err && err.stack || err));
  }
}

function render(data) {
  document.getElementById("node-id").textContent = data.dashboard.node.peerId;
  document.getElementById("node-role").textContent = "p2p " + data.dashboard.node.role + " · v" + data.dashboard.node.version;
  view("tables", () => renderTables(data));
  view("summary", () => renderTiles(data));
  view("network", () => renderGraph(data));
  view("charts", () => renderCharts(data));
  previous = data.dashboard;
}

const DATA_VIEWS = ["pools-body", "federated-body", "peers-body", "ledger-body", "node-body", "tiles",
  "graph", "graph-legend", "network-summary", "overview-charts", "events", "charts"];

/** Hides every figure and asks for the token; polling stops until it is given. */
function askForToken(message, isError) {
  token = null;
  sessionStorage.removeItem(TOKEN_KEY);
  previous = null;
  history = null;
  document.querySelector("main").hidden = true;
  document.getElementById("node-id").textContent = "locked";
  document.getElementById("node-role").textContent = "";
  for (const id of DATA_VIEWS) document.getElementById(id).replaceChildren();
  const text = document.getElementById("login-message");
  text.textContent = message;
  text.className = isError ? "error" : "";
  const status = document.getElementById("status");
  status.textContent = "locked";
  status.className = "";
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
    // The dashboard first: a 401 there asks for the token before anything else is fetched.
    const dashboard = await getJson("api/dashboard");
    const since = history && history.at.length > 0 ? "?since=" + history.at[history.at.length - 1] : "";
    const [peers, node, incoming] = await Promise.all([
      getJson("api/peers"), getJson("api/node"), getJson("api/history" + since),
    ]);
    history = mergeHistory(history, incoming, HORIZON_MS);
    render({ dashboard, peers, node, history });
    status.textContent = "live · " + clock(Date.now());
    status.className = "live";
  } catch (err) {
    if (err instanceof Unauthorized) {
      askForToken(token
        ? "Wrong token: the node refused it. Enter the token it was started with (--api-token)."
        : "Enter the token the node was started with (--api-token).", Boolean(token));
      return;
    }
    status.textContent = "cannot reach the node (" + err.message + ")";
    status.className = "error";
  }
  timer = setTimeout(refresh, POLL_MS);
}

function start() {
  refresh();
}
`;
