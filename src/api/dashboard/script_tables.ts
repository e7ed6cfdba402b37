/**
 * The text view (browser JavaScript): the summary tiles and the tables of pools, federated
 * connections, peers (with their path: direct, relayed via X, limited), ledger and this node.
 * Tables have captions and column headers, so a screen reader can walk them.
 */
export const TABLES_SCRIPT: string = String.raw`
function table(caption, headers, rows) {
  return el("div", { class: "table-wrap" }, el("table", {},
    el("caption", { class: "visually-hidden" }, caption),
    el("thead", {}, el("tr", {}, ...headers.map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, ...rows)));
}

/** How a connected peer is reached, as words: "direct", "relayed via …abc123", "limited". */
function peerPath(peer) {
  const limited = peer.limits && (peer.limits.bytes !== undefined || peer.limits.seconds !== undefined);
  const via = peer.relayed && peer.relay ? " via …" + peer.relay.slice(-6) : "";
  if (limited) return { kind: "limited", text: "limited" + (via || (peer.relayed ? " (relayed)" : "")) };
  if (peer.relayed) return { kind: "relayed", text: "relayed" + via };
  return { kind: "direct", text: "direct" };
}

function renderPools(pools) {
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
      pool.workers.length ? table("Workers of pool " + pool.bucket, ["name", "id", "state", "last update", "active"], rows) : empty("empty"));
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
    rows.length ? table("Connections per worker", ["worker", "active", "total", "rate", "failed", "in / out"], rows) : empty("No connections yet"),
  ];
}

function renderPeers(peers, members) {
  if (peers.length === 0) return [empty("No peers connected")];
  // Without a member field (nodes before NAT traversal): proved the token, or in the ledger.
  const memberSet = new Set(members);
  return [table("Connected peers", ["peer", "path", "direction", "member", "latency", "address"], peers.map((p) => {
    const path = peerPath(p);
    const member = p.member !== undefined ? p.member : memberSet.has(p.peerId);
    return el("tr", { "data-peer": p.peerId, "data-path": path.kind },
      el("td", { class: "mono" }, p.peerId),
      el("td", {}, el("span", { class: "badge " + path.kind }, path.text)),
      el("td", {}, p.direction || ""),
      el("td", {}, member ? "yes" : "no"),
      el("td", { class: "num" }, typeof p.latencyMs === "number" ? formatMs(p.latencyMs) : "–"),
      el("td", { class: "mono" }, (p.addresses || (p.address ? [p.address] : [])).join(" ")));
  }))];
}

function renderNode(node, dashboardNode) {
  const rows = [
    ["uptime", duration(dashboardNode.uptimeS)],
    ["ledger block", "#" + dashboardNode.ledgerIndex],
  ];
  // Reachability fields come with NAT traversal; shown when the node reports them.
  if (node.reachability !== undefined) rows.push(["reachability", String(node.reachability)]);
  for (const key of ["announced", "verified", "reservations"]) {
    const value = node[key];
    if (value === undefined) continue;
    const list = Array.isArray(value) ? value : [value];
    if (list.length === 0) rows.push([key, "none"]);
    for (const item of list) rows.push([key, typeof item === "object" ? JSON.stringify(item) : String(item)]);
  }
  for (const a of dashboardNode.addresses) rows.push(["address", a]);
  return [table("This node", ["field", "value"], rows.map(([k, v]) =>
    el("tr", { "data-field": k }, el("td", {}, k), el("td", { class: k === "uptime" || k === "ledger block" || k === "reachability" ? "" : "mono" }, v))))];
}

function renderTables({ dashboard, peers, node }) {
  document.getElementById("pools-body").replaceChildren(...renderPools(dashboard.pools));
  document.getElementById("federated-body").replaceChildren(...renderFederated(dashboard.federated, dashboard.at));
  document.getElementById("peers-body").replaceChildren(...renderPeers(peers, (dashboard.members || []).concat(dashboard.proven || [])));
  document.getElementById("ledger-body").replaceChildren(dashboard.ledger.length
    ? table("Ledger buckets", ["bucket", "keys"], dashboard.ledger.map((b) => el("tr", { "data-bucket": b.bucket },
        el("td", { class: "mono" }, b.bucket), el("td", { class: "num" }, b.keys))))
    : empty("Empty ledger"));
  document.getElementById("node-body").replaceChildren(...renderNode(node, dashboard.node));
}

function tile(id, label, value, sub, spark, title) {
  return el("li", { class: "tile", id: "tile-" + id, title },
    el("div", { class: "label" }, label),
    el("div", { class: "value" }, value),
    el("div", { class: "sub" }, sub),
    ...(spark ? [spark] : []));
}

function renderTiles({ dashboard, peers, node, history }) {
  const paths = peers.map(peerPath);
  const relayed = paths.filter((p) => p.kind !== "direct").length;
  const workers = dashboard.pools.flatMap((p) => p.workers);
  const online = workers.filter((w) => w.online).length;
  const t = history.totals;
  const load = loadFigures(history);
  const tiles = [
    tile("peers", "Peers", String(peers.length), (peers.length - relayed) + " direct · " + relayed + " relayed"),
    tile("workers", "Workers online", online + " / " + workers.length,
      dashboard.pools.map((p) => p.bucket + " " + p.workers.filter((w) => w.online).length + "/" + p.workers.length).join(" · ") || "no pools"),
    tile("rate", load.balancer ? "Client connections" : "Tunnels", formatRate(lastValue(load.rate)), "open now " + (lastValue(load.open) ?? 0),
      sparkline(history.at, [load.rate], ["c-s0"], true)),
    tile("throughput", "Throughput", formatBytesRate((lastValue(load.bytesA) ?? 0) + (lastValue(load.bytesB) ?? 0)),
      "↑ " + formatBytesRate(lastValue(load.bytesA)) + " · ↓ " + formatBytesRate(lastValue(load.bytesB)),
      sparkline(history.at, [load.bytesA, load.bytesB], ["c-s2", "c-s1"], false), "↑ " + load.labelA + ", ↓ " + load.labelB),
    tile("latency", "Connect latency", "p50 " + formatMs(lastValue(t.connectP50Ms)), "p99 " + formatMs(lastValue(t.connectP99Ms)) +
      " · last " + Math.round(history.latencyWindowMs / 1000) + " s"),
    node.reachability !== undefined
      ? tile("reachability", "Reachability", String(node.reachability),
          Array.isArray(node.reservations) ? node.reservations.length + " relay reservations" : "uptime " + duration(dashboard.node.uptimeS))
      : tile("uptime", "Uptime", duration(dashboard.node.uptimeS), "ledger block #" + dashboard.node.ledgerIndex),
  ];
  document.getElementById("tiles").replaceChildren(...tiles);
}
`;
