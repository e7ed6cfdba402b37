/**
 * The network picture (browser JavaScript): `buildGraphModel` decides what is drawn,
 * `layoutGraph` where; this draws it as SVG. Redrawn only when the model changes, so a
 * tooltip being read is not replaced every second.
 */
export const GRAPH_SCRIPT: string = String.raw`
let drawnGraph = "";

function edgeLine(a, b, trimA, trimB) {
  const dx = b.x - a.x;
  const dy = b.y - a.y;
  const length = Math.hypot(dx, dy) || 1;
  return {
    x1: a.x + (dx / length) * trimA, y1: a.y + (dy / length) * trimA,
    x2: b.x - (dx / length) * trimB, y2: b.y - (dy / length) * trimB,
  };
}

function graphLegend() {
  const swatch = (...children) => svg("svg", { viewBox: "0 0 28 12", "aria-hidden": "true" }, ...children);
  const dot = (cls) => swatch(svg("circle", { cx: 14, cy: 6, r: 5, class: "g-node " + cls }));
  const line = (cls) => swatch(svg("line", { x1: 1, y1: 6, x2: 27, y2: 6, class: "g-edge " + cls }));
  const items = [
    [swatch(svg("circle", { cx: 14, cy: 6, r: 3, class: "g-self" })), "this node"],
    [dot("online"), "worker online"], [dot("offline"), "worker offline"],
    [dot("connected"), "peer (member)"], [dot("stranger"), "peer, not a proven member"],
    [dot("known"), "member, not connected"],
    [line("direct"), "direct"], [line("relayed"), "relayed (via a relay)"], [line("limited"), "limited (relay's data/time cap)"],
  ];
  return items.map(([icon, text]) => el("li", {}, icon, text));
}

function renderGraph({ dashboard, peers }) {
  const model = buildGraphModel({
    selfId: dashboard.node.peerId, role: dashboard.node.role,
    pools: dashboard.pools, peers, members: dashboard.members || [], proven: dashboard.proven || [],
  });
  const holder = document.getElementById("graph");
  const key = JSON.stringify(model);
  if (key === drawnGraph && holder.firstChild) return;
  drawnGraph = key;
  const layout = layoutGraph({ nodes: model.nodes, groups: model.groups });
  const placed = new Map(layout.nodes.map((n) => [n.id, n]));
  placed.set(model.self.id, { x: 0, y: 0 });
  const radiusOf = (id) => id === model.self.id ? layout.selfRadius + 4 : layout.nodeRadius + 2;

  const relayed = model.edges.filter((e) => e.path !== "direct").length;
  const workers = model.nodes.filter((n) => n.kind === "worker");
  const summary = model.edges.length + " connections (" + (model.edges.length - relayed) + " direct, " + relayed +
    " relayed or limited) · " + workers.filter((w) => w.state === "online").length + "/" + workers.length + " workers online" +
    (model.omitted > 0 ? " · " + model.omitted + " more members not drawn" : "");
  document.getElementById("network-summary").textContent = summary;

  const [minX, minY, width, height] = layout.viewBox;
  const root = svg("svg", {
    viewBox: minX + " " + minY + " " + width + " " + height, role: "img",
    "aria-labelledby": "graph-title graph-desc", "data-mode": layout.mode,
  },
    svg("title", { id: "graph-title" }, "Network as this node sees it"),
    svg("desc", { id: "graph-desc" }, summary + ". The tables below list the same peers and workers."));

  layout.groups.forEach((group, i) => root.append(svg("path", {
    d: group.bandPath, class: "g-band-" + (i % 4), "data-group-band": group.name,
  })));

  const edges = svg("g", { class: "edges" });
  for (const edge of model.edges) {
    const a = placed.get(edge.from);
    const b = placed.get(edge.to);
    if (!a || !b) continue;
    const attrs = { class: "g-edge " + edge.path, "data-edge-from": edge.from, "data-edge-to": edge.to, "data-path": edge.path };
    let shape;
    if (edge.from === model.self.id) {
      shape = svg("line", { ...attrs, ...edgeLine(a, b, radiusOf(edge.from), radiusOf(edge.to)) });
    } else {
      // Relay to peer, both on the circle: a curve bent towards the centre, off the spokes.
      const line = edgeLine(a, b, radiusOf(edge.from), radiusOf(edge.to));
      const cx = ((a.x + b.x) / 2) * 0.55;
      const cy = ((a.y + b.y) / 2) * 0.55;
      shape = svg("path", { ...attrs, d: "M" + line.x1 + " " + line.y1 + "Q" + cx + " " + cy + " " + line.x2 + " " + line.y2 });
    }
    if (edge.via) shape.setAttribute("data-via", edge.via);
    shape.append(svg("title", {}, edge.title));
    edges.append(shape);
  }
  root.append(edges);

  for (const group of layout.groups) {
    root.append(svg("text", {
      class: "g-group", x: group.labelX, y: group.labelY, "text-anchor": group.labelAnchor, "data-group-label": group.name,
    }, group.name + " · " + group.count));
  }

  const byId = new Map(model.nodes.map((n) => [n.id, n]));
  for (const node of layout.nodes) {
    const info = byId.get(node.id);
    const g = svg("g", { "data-node": node.id, "data-kind": info.kind, "data-state": info.state, "data-group": info.group },
      svg("title", {}, info.title),
      svg("circle", { cx: node.x, cy: node.y, r: layout.nodeRadius, class: "g-node " + info.state }));
    const text = svg("text", {
      class: "g-label" + (info.connected ? "" : " dim"), x: node.labelX, y: node.labelY, "text-anchor": node.labelAnchor,
      ...(node.labelRotate ? { transform: "rotate(" + node.labelRotate + " " + node.labelX + " " + node.labelY + ")", "dominant-baseline": "central" } : {}),
    }, node.label);
    g.append(text);
    root.append(g);
  }
  root.append(svg("g", { "data-node": model.self.id, "data-kind": "self", "data-self": "true" },
    svg("title", {}, model.self.title),
    svg("circle", { cx: 0, cy: 0, r: layout.selfRadius, class: "g-self" }),
    svg("text", { class: "g-label", x: 0, y: layout.selfLabelY, "text-anchor": "middle" }, "this node")));

  holder.classList.toggle("big", layout.mode === "radial");
  holder.replaceChildren(root);
  const legend = document.getElementById("graph-legend");
  if (legend.childElementCount === 0) legend.replaceChildren(...graphLegend());
}
`;
