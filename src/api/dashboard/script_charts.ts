/**
 * Load over time (browser JavaScript): an overview (connections per second by worker, the
 * node's throughput), the events list, and one card per worker with connections/s, bytes/s
 * each way and connect latency p50/p99, all over the last 15 minutes with events (failovers,
 * workers going offline or online) marked on the time axis. Charts of one kind share their
 * scale across workers, so that their heights compare.
 */
export const CHARTS_SCRIPT: string = String.raw`
const PALETTE = 8;

function eventText(e, names) {
  switch (e.kind) {
    case "online": return e.name + " online (" + e.pool + ")";
    case "offline": return e.name + " offline: " + e.reason + " (" + e.pool + ")";
    case "failover": return "failover ×" + e.count + (e.workers.length ? " away from " + e.workers.map((id) => names.get(id) || id).join(", ") : "");
    case "failed": return e.count + " connection" + (e.count === 1 ? "" : "s") + " failed on every worker";
    default: return e.kind;
  }
}

/**
 * The time span the charts show: the last 15 minutes, or less while the node has not run that
 * long (two minutes at least), so a young node's lines are not squeezed to the right edge.
 */
function chartSpan(at) {
  const age = at.length > 1 ? at[at.length - 1] - at[0] : 0;
  return Math.min(HORIZON_MS, Math.max(2 * 60 * 1000, age));
}

/** A chart of one or more series over the chart span, with event markers. */
function chart({ at, series, yMax, events, names, height, label, spanMs }) {
  const width = 300;
  const to = at.length > 0 ? at[at.length - 1] : Date.now();
  const span = spanMs || chartSpan(at);
  const frame = { from: to - span, to, width, height, yMax };
  const root = svg("svg", {
    viewBox: "0 0 " + width + " " + height, preserveAspectRatio: "none", role: "img", "aria-label": label,
  });
  root.append(
    svg("line", { x1: 0, x2: width, y1: height / 2, y2: height / 2, class: "c-grid" }),
    svg("line", { x1: 0, x2: width, y1: height - 0.5, y2: height - 0.5, class: "c-grid" }));
  for (const s of series) {
    if (s.area) root.append(svg("path", { d: seriesPath(at, s.values, frame, true), class: "c-area " + s.cls }));
    root.append(svg("path", {
      d: seriesPath(at, s.values, frame), class: "c-line " + s.cls, "data-series": s.name,
      "data-last": lastValue(s.values), "data-samples": s.values.filter((v) => v !== null).length,
    }));
  }
  for (const e of events || []) {
    const x = ((e.at - frame.from) / span) * width;
    if (x < 0 || x > width) continue;
    root.append(svg("line", {
      x1: x, x2: x, y1: 0, y2: height, class: "c-event " + e.kind, "data-event-kind": e.kind,
      "data-event-worker": e.worker || (e.workers || []).join(" "),
    }, svg("title", {}, clock(e.at) + " " + eventText(e, names))));
  }
  return root;
}

/** A tile's trend line: no axes, no events. */
function sparkline(at, seriesList, classes, area) {
  const yMax = niceCeiling(Math.max(...seriesList.map(seriesMax)));
  return chart({ at, series: seriesList.map((values, i) => ({ values, cls: classes[i], area, name: "" })), yMax, events: [], names: new Map(), height: 26, label: "trend", spanMs: 5 * 60 * 1000 });
}

function timeAxis(at) {
  const span = chartSpan(at);
  const tick = (fraction) => {
    const s = Math.round((span * fraction) / 1000);
    return s === 0 ? "now" : span >= 3 * 60 * 1000 ? "−" + Math.round(s / 6) / 10 + " min" : "−" + s + " s";
  };
  return el("div", { class: "c-axis", "aria-hidden": "true" }, ...[1, 2 / 3, 1 / 3, 0].map((f) => el("span", {}, tick(f))));
}

/** A label with colour keys: keyed([["to", "c-s2"], ["from", "c-s1"]], " bytes/s"). */
function keyed(keys, rest) {
  const parts = [];
  keys.forEach(([text, cls], i) => parts.push(...(i ? [" · "] : []), el("span", { class: "key " + cls }, text)));
  return el("span", {}, ...parts, rest);
}

function chartRow(label, nowText, chartNode) {
  return el("div", { class: "chart-row" },
    el("div", { class: "what" }, el("span", {}, label), el("span", {}, nowText)), chartNode);
}

/**
 * What the overview and the tiles show: on a balancer, its clients' connections and bytes
 * (summed over the workers); elsewhere, this node's tunnels.
 */
function loadFigures(history) {
  const { workers, totals } = history;
  if (workers.length === 0) {
    return {
      balancer: false, rate: totals.connectionsPerS, open: totals.tunnelsActive,
      bytesA: totals.tunnelBytesInPerS, bytesB: totals.tunnelBytesOutPerS, labelA: "in", labelB: "out",
    };
  }
  return {
    balancer: true, rate: sumSeries(workers.map((w) => w.series.connectionsPerS)),
    open: sumSeries(workers.map((w) => w.series.active)),
    bytesA: sumSeries(workers.map((w) => w.series.bytesToWorkerPerS)),
    bytesB: sumSeries(workers.map((w) => w.series.bytesFromWorkerPerS)),
    labelA: "to workers", labelB: "from workers",
  };
}

function renderOverview(history, names, workerClass) {
  const { at, workers, totals, events } = history;
  const load = loadFigures(history);
  const rateMax = niceCeiling(seriesMax(load.rate));
  let rateChart;
  if (load.balancer) {
    // Stacked, drawn from the top band down: each band is one worker's share.
    const stacked = stackSeries(workers.map((w) => w.series.connectionsPerS));
    const series = [];
    for (let i = workers.length - 1; i >= 0; i--) {
      series.push({ name: "stacked", values: stacked[i], cls: workerClass.get(workers[i].id) + " c-stack", area: true });
    }
    rateChart = chart({ at, yMax: rateMax, events, names, height: 150, label: "Client connections per second, stacked by worker", series });
  } else {
    rateChart = chart({ at, yMax: rateMax, events, names, height: 150, label: "Tunnels opened per second",
      series: [{ name: "connectionsPerS", values: load.rate, cls: "c-s0", area: true }] });
  }
  rateChart.setAttribute("data-chart", "overview-connections");
  const bytesMax = niceBytesCeiling(Math.max(seriesMax(load.bytesA), seriesMax(load.bytesB)));
  const throughput = chart({
    at, yMax: bytesMax, events, names, height: 60, label: "Throughput " + load.labelA + " and " + load.labelB,
    series: [
      { name: "bytesA", values: load.bytesA, cls: "c-s2", area: true },
      { name: "bytesB", values: load.bytesB, cls: "c-s1" },
    ],
  });
  throughput.setAttribute("data-chart", "overview-throughput");
  const latencyMax = niceCeiling(robustMax([totals.connectP99Ms]));
  const latency = chart({
    at, yMax: latencyMax, events, names, height: 60, label: "Connect latency p50 and p99, all workers",
    series: [
      { name: "connectP50Ms", values: totals.connectP50Ms, cls: "c-s0", area: true },
      { name: "connectP99Ms", values: totals.connectP99Ms, cls: "c-s3" },
    ],
  });
  const keys = el("div", { class: "what" }, ...workers.map((w) =>
    el("span", { class: "key " + workerClass.get(w.id) }, w.name || w.id)));
  return [
    el("div", { class: "chart-row chart-big" },
      el("div", { class: "what" },
        el("span", {}, (load.balancer ? "client connections/s, stacked by worker" : "tunnels/s") + " · 0–" + rateMax),
        el("span", {}, formatRate(lastValue(load.rate)) + " now")),
      rateChart, ...(load.balancer ? [keys] : [])),
    chartRow(keyed([[load.labelA, "c-s2"], [load.labelB, "c-s1"]], " · 0–" + formatBytesRate(bytesMax)),
      formatBytesRate(lastValue(load.bytesA)) + " / " + formatBytesRate(lastValue(load.bytesB)), throughput),
    ...(load.balancer ? [chartRow(keyed([["p50", "c-s0"], ["p99", "c-s3"]], " connect, all workers · 0–" + formatMs(latencyMax)),
      "p50 " + formatMs(lastValue(totals.connectP50Ms)) + " · p99 " + formatMs(lastValue(totals.connectP99Ms)), latency)] : []),
    timeAxis(at),
  ];
}

function renderEvents(history, names) {
  const list = history.events.slice(-30).reverse();
  if (list.length === 0) return [el("li", { class: "empty" }, "Nothing happened in the last 15 minutes")];
  return list.map((e) => el("li", { class: e.kind, "data-event-kind": e.kind },
    el("time", { datetime: new Date(e.at).toISOString() }, clock(e.at)), el("span", {}, eventText(e, names))));
}

function workerCard(w, history, scales, online, names, cls) {
  const s = w.series;
  const mine = history.events.filter((e) => e.worker === w.id || (e.workers || []).includes(w.id));
  const common = { at: history.at, events: mine, names, height: 46 };
  const state = online === undefined ? [] : [el("span", { class: "badge " + (online ? "online" : "offline") }, online ? "online" : "offline")];
  return el("article", { class: "chart-card", "data-worker-card": w.name || w.id, "aria-label": "Worker " + (w.name || w.id) },
    el("header", {}, el("span", { class: "key " + cls }), el("h3", { title: w.name || w.id }, w.name || w.id), ...state,
      el("span", { class: "now" }, formatRate(lastValue(s.connectionsPerS)) + " · " + (lastValue(s.active) ?? 0) + " open")),
    chartRow("connections/s · 0–" + scales.rate, formatRate(lastValue(s.connectionsPerS)),
      chart({ ...common, yMax: scales.rate, label: "Connections per second to " + (w.name || w.id),
        series: [{ name: "connectionsPerS", values: s.connectionsPerS, cls, area: true }] })),
    chartRow(keyed([["to ↑", "c-s2"], ["from ↓", "c-s1"]], " · 0–" + formatBytesRate(scales.bytes)),
      "↑ " + formatBytesRate(lastValue(s.bytesToWorkerPerS)) + " ↓ " + formatBytesRate(lastValue(s.bytesFromWorkerPerS)),
      chart({ ...common, yMax: scales.bytes, label: "Bytes per second to and from " + (w.name || w.id),
        series: [
          // The overview's colours: teal to the workers, orange from them.
          { name: "bytesToWorkerPerS", values: s.bytesToWorkerPerS, cls: "c-s2", area: true },
          { name: "bytesFromWorkerPerS", values: s.bytesFromWorkerPerS, cls: "c-s1" },
        ] })),
    chartRow(keyed([["p50", "c-s0"], ["p99", "c-s3"]], " connect · 0–" + formatMs(scales.latency)),
      "p50 " + formatMs(lastValue(s.connectP50Ms)) + " · p99 " + formatMs(lastValue(s.connectP99Ms)),
      chart({ ...common, yMax: scales.latency, label: "Connect latency p50 and p99 of " + (w.name || w.id),
        series: [
          { name: "connectP50Ms", values: s.connectP50Ms, cls: "c-s0", area: true },
          { name: "connectP99Ms", values: s.connectP99Ms, cls: "c-s3" },
        ] })));
}

function renderCharts({ dashboard, history }) {
  const names = new Map(history.workers.map((w) => [w.id, w.name || w.id]));
  const workerClass = new Map(history.workers.map((w, i) => [w.id, "c-s" + (i % PALETTE)]));
  document.getElementById("overview-charts").replaceChildren(...renderOverview(history, names, workerClass));
  document.getElementById("events").replaceChildren(...renderEvents(history, names));
  const charts = document.getElementById("charts");
  if (history.workers.length === 0) {
    charts.replaceChildren(empty(dashboard.federated
      ? "No client connection yet: each worker's charts start with its first one"
      : "No balancer on this node: per-worker load is shown on the node that runs p2p federated"));
    return;
  }
  const max = (name) => Math.max(0, ...history.workers.map((w) => seriesMax(w.series[name])));
  const scales = {
    rate: niceCeiling(max("connectionsPerS")),
    bytes: niceBytesCeiling(Math.max(max("bytesToWorkerPerS"), max("bytesFromWorkerPerS"))),
    // p99 spikes (a cold start) are clipped, not allowed to flatten the rest.
    latency: niceCeiling(robustMax(history.workers.map((w) => w.series.connectP99Ms))),
  };
  const onlineById = new Map(dashboard.pools.flatMap((p) => p.workers).map((w) => [w.id, w.online]));
  charts.replaceChildren(...history.workers.map((w) =>
    workerCard(w, history, scales, onlineById.get(w.id), names, workerClass.get(w.id))));
}
`;
