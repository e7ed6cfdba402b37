/**
 * The dashboard's CSS: light and dark themes from the system (`prefers-color-scheme`), a grid
 * that folds to one column at phone width, and the SVG classes of the graph and charts.
 */
export const DASHBOARD_CSS: string = `
:root { color-scheme: light dark;
  --bg:#f4f6f8; --card:#ffffff; --line:#e1e5ea; --text:#17202a; --dim:#5c6774; --faint:#eef1f4;
  --accent:#2563eb; --ok:#15803d; --off:#dc2626; --warn:#c2410c; --relay:#7c3aed;
  --halo:#ffffff; --band-0:rgba(37,99,235,.08); --band-1:rgba(21,128,61,.09);
  --band-2:rgba(194,65,12,.08); --band-3:rgba(124,58,237,.08);
  --s0:#2563eb; --s1:#ea580c; --s2:#0d9488; --s3:#db2777; --s4:#7c3aed; --s5:#ca8a04;
  --s6:#0891b2; --s7:#65a30d; }
@media (prefers-color-scheme: dark) {
  :root { --bg:#0d1117; --card:#161b22; --line:#2a313c; --text:#e6edf3; --dim:#8d99a6;
    --faint:#1c232c; --accent:#58a6ff; --ok:#3fb950; --off:#f85149; --warn:#e3a341;
    --relay:#b392f0; --halo:#161b22; --band-0:rgba(88,166,255,.10); --band-1:rgba(63,185,80,.10);
    --band-2:rgba(227,163,65,.10); --band-3:rgba(179,146,240,.10);
    --s0:#58a6ff; --s1:#f0883e; --s2:#2dd4bf; --s3:#f778ba; --s4:#b392f0; --s5:#e3b341;
    --s6:#39c5cf; --s7:#8ddb4c; }
}
* { box-sizing:border-box; }
body { margin:0; font:14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif;
  background:var(--bg); color:var(--text); }
header { position:sticky; top:0; z-index:2; background:var(--card); padding:10px 20px;
  border-bottom:1px solid var(--line); display:flex; align-items:center; gap:14px; flex-wrap:wrap; }
header h1 { margin:0; font-size:18px; letter-spacing:.02em; }
header h1 span { color:var(--accent); }
header .meta { color:var(--dim); font-family:ui-monospace, monospace; font-size:12px;
  overflow-wrap:anywhere; }
#status { margin-left:auto; font-size:12px; color:var(--dim); display:flex; align-items:center; gap:6px; }
#status::before { content:""; width:8px; height:8px; border-radius:50%; background:var(--dim); }
#status.live::before { background:var(--ok); }
#status.error { color:var(--off); }
#status.error::before { background:var(--off); }
main { padding:16px 20px 28px; display:grid; gap:16px; grid-template-columns:repeat(12, minmax(0, 1fr)); }
main > section { grid-column:span 6; background:var(--card); border:1px solid var(--line);
  border-radius:10px; padding:14px 16px; min-width:0; }
main > section.wide { grid-column:1 / -1; }
main > section.graph { grid-column:span 7; }
main > section.overview { grid-column:span 5; }
main > section.narrow { grid-column:span 4; }
main > section.broad { grid-column:span 8; }
@media (max-width: 1100px) { main > section, main > section.graph, main > section.overview,
  main > section.narrow, main > section.broad { grid-column:1 / -1; } }
@media (max-width: 600px) { main { padding:10px; gap:10px; } header { padding:8px 10px; }
  main > section { padding:12px; } }
section h2 { margin:0 0 10px; font-size:14px; font-weight:600; display:flex; gap:8px;
  align-items:baseline; flex-wrap:wrap; }
section h2 small { font-weight:400; color:var(--dim); font-size:12px; }
section h3 { margin:10px 0 6px; font-size:13px; }
#tiles { display:grid; gap:12px; grid-template-columns:repeat(auto-fit, minmax(150px, 1fr));
  grid-column:1 / -1; margin:0; padding:0; list-style:none; }
.tile { background:var(--card); border:1px solid var(--line); border-radius:10px; padding:10px 14px;
  min-width:0; }
.tile .label { color:var(--dim); font-size:12px; white-space:nowrap; overflow:hidden; text-overflow:ellipsis; }
.tile .value { font-size:22px; font-weight:600; font-variant-numeric:tabular-nums; white-space:nowrap;
  overflow:hidden; text-overflow:ellipsis; }
.tile .sub { color:var(--dim); font-size:12px; white-space:nowrap; overflow:hidden; text-overflow:ellipsis; }
.tile svg { display:block; width:100%; height:26px; margin-top:4px; }
.table-wrap { overflow-x:auto; }
table { width:100%; border-collapse:collapse; }
caption { text-align:left; color:var(--dim); font-size:12px; padding-bottom:4px; }
th, td { text-align:left; padding:5px 8px; border-bottom:1px solid var(--line); vertical-align:top; }
th { color:var(--dim); font-weight:500; font-size:12px; text-transform:uppercase; }
td.mono, .mono { font-family:ui-monospace, monospace; font-size:12px; overflow-wrap:anywhere; }
td.mono { min-width:18ch; }
p.summary { word-break:normal; }
.badge { display:inline-block; padding:1px 8px; border-radius:999px; font-size:12px; font-weight:600;
  white-space:nowrap; }
.badge.online { background:color-mix(in srgb, var(--ok) 15%, transparent); color:var(--ok); }
.badge.offline { background:color-mix(in srgb, var(--off) 15%, transparent); color:var(--off); }
.badge.relayed { background:color-mix(in srgb, var(--relay) 15%, transparent); color:var(--relay); }
.badge.limited { background:color-mix(in srgb, var(--warn) 15%, transparent); color:var(--warn); }
.badge.direct { background:var(--faint); color:var(--dim); }
.empty { color:var(--dim); font-style:italic; }
.num { text-align:right; font-variant-numeric:tabular-nums; }
#graph svg { display:block; width:100%; height:auto; max-height:min(78vh, 470px); margin:0 auto; }
#graph.big svg { min-width:640px; }
#graph { overflow-x:auto; }
.legend { display:flex; flex-wrap:wrap; gap:6px 14px; margin:8px 0 0; padding:0; list-style:none;
  color:var(--dim); font-size:12px; }
.legend li { display:flex; align-items:center; gap:6px; }
.legend svg { width:28px; height:12px; }
.g-edge { stroke:var(--dim); stroke-width:1.6; fill:none; opacity:.75; }
.g-edge.relayed { stroke:var(--relay); stroke-dasharray:6 4; opacity:1; }
.g-edge.limited { stroke:var(--warn); stroke-dasharray:2 3; stroke-width:2; opacity:1; }
.g-node { stroke-width:2; }
.g-node.online { fill:var(--ok); stroke:var(--card); }
.g-node.offline { fill:var(--card); stroke:var(--off); stroke-dasharray:3 2; }
.g-node.connected { fill:var(--accent); stroke:var(--card); }
.g-node.stranger { fill:var(--dim); stroke:var(--card); }
.g-node.known { fill:var(--card); stroke:var(--dim); stroke-dasharray:2 2; }
.g-self { fill:var(--accent); stroke:color-mix(in srgb, var(--accent) 35%, transparent); stroke-width:8; }
.g-label { fill:var(--text); font-size:12px; paint-order:stroke; stroke:var(--halo); stroke-width:3px;
  stroke-linejoin:round; }
.g-label.dim { fill:var(--dim); }
.g-group { fill:var(--dim); font-size:12px; font-weight:600; paint-order:stroke; stroke:var(--halo);
  stroke-width:4px; text-transform:uppercase; letter-spacing:.04em; }
.g-band-0 { fill:var(--band-0); } .g-band-1 { fill:var(--band-1); }
.g-band-2 { fill:var(--band-2); } .g-band-3 { fill:var(--band-3); }
.charts { display:grid; gap:12px; grid-template-columns:repeat(auto-fill, minmax(min(320px, 100%), 1fr)); }
.chart-card { border:1px solid var(--line); border-radius:8px; padding:10px 12px; min-width:0; }
.chart-card header { position:static; padding:0; border:0; background:none; gap:8px; }
.chart-card header { flex-wrap:nowrap; }
.chart-card h3 { margin:0; font-size:14px; min-width:0; overflow:hidden; text-overflow:ellipsis;
  white-space:nowrap; }
.chart-card .now { color:var(--dim); font-size:12px; margin-left:auto; font-variant-numeric:tabular-nums;
  white-space:nowrap; }
.chart-row { margin-top:6px; }
.chart-row .what { display:flex; justify-content:space-between; gap:8px; color:var(--dim); font-size:11px; }
.chart-row svg { display:block; width:100%; height:46px; overflow:visible; }
.chart-big svg { height:190px; }
.c-line { fill:none; stroke-width:1.6; vector-effect:non-scaling-stroke; stroke-linejoin:round; }
.c-area { opacity:.16; stroke:none; }
.c-area.c-stack { opacity:1; }
.c-area.c-stack.c-s0 { fill:color-mix(in srgb, var(--s0) 45%, var(--card)); }
.c-area.c-stack.c-s1 { fill:color-mix(in srgb, var(--s1) 45%, var(--card)); }
.c-area.c-stack.c-s2 { fill:color-mix(in srgb, var(--s2) 45%, var(--card)); }
.c-area.c-stack.c-s3 { fill:color-mix(in srgb, var(--s3) 45%, var(--card)); }
.c-area.c-stack.c-s4 { fill:color-mix(in srgb, var(--s4) 45%, var(--card)); }
.c-area.c-stack.c-s5 { fill:color-mix(in srgb, var(--s5) 45%, var(--card)); }
.c-area.c-stack.c-s6 { fill:color-mix(in srgb, var(--s6) 45%, var(--card)); }
.c-area.c-stack.c-s7 { fill:color-mix(in srgb, var(--s7) 45%, var(--card)); }
.c-grid { stroke:var(--line); stroke-width:1; vector-effect:non-scaling-stroke; }
.c-axis { color:var(--dim); font-size:11px; display:flex; justify-content:space-between; }
.c-event { stroke-width:1.5; vector-effect:non-scaling-stroke; }
.c-event.offline, .c-event.failed { stroke:var(--off); }
.c-event.online { stroke:var(--ok); }
.c-event.failover { stroke:var(--warn); stroke-dasharray:3 2; }
.c-s0 { stroke:var(--s0); fill:var(--s0); } .c-s1 { stroke:var(--s1); fill:var(--s1); }
.c-s2 { stroke:var(--s2); fill:var(--s2); } .c-s3 { stroke:var(--s3); fill:var(--s3); }
.c-s4 { stroke:var(--s4); fill:var(--s4); } .c-s5 { stroke:var(--s5); fill:var(--s5); }
.c-s6 { stroke:var(--s6); fill:var(--s6); } .c-s7 { stroke:var(--s7); fill:var(--s7); }
.c-line.c-s0, .c-line.c-s1, .c-line.c-s2, .c-line.c-s3, .c-line.c-s4, .c-line.c-s5, .c-line.c-s6,
.c-line.c-s7 { fill:none; }
.key.c-s0 { color:var(--s0); } .key.c-s1 { color:var(--s1); } .key.c-s2 { color:var(--s2); }
.key.c-s3 { color:var(--s3); } .key.c-s4 { color:var(--s4); } .key.c-s5 { color:var(--s5); }
.key.c-s6 { color:var(--s6); } .key.c-s7 { color:var(--s7); }
.key { display:inline-flex; align-items:center; gap:4px; }
.key::before { content:""; width:10px; height:3px; border-radius:2px; background:currentColor; }
#events { margin:8px 0 0; padding:0; list-style:none; font-size:12px; max-height:180px; overflow:auto; }
#events li { display:flex; gap:8px; padding:3px 0; border-bottom:1px solid var(--line); }
#events time { color:var(--dim); font-variant-numeric:tabular-nums; }
#events .offline, #events .failed { color:var(--off); }
#events .online { color:var(--ok); }
#events .failover { color:var(--warn); }
#login { max-width:420px; margin:48px auto; background:var(--card); border:1px solid var(--line);
  border-radius:10px; padding:20px; display:grid; gap:12px; }
#login[hidden], main[hidden] { display:none; }
#login h2 { margin:0; font-size:16px; color:var(--accent); }
#login p { margin:0; color:var(--dim); }
#login p.error { color:var(--off); }
#login input, #login button { font:inherit; padding:8px 10px; border-radius:6px;
  border:1px solid var(--line); background:var(--bg); color:var(--text); }
#login button { background:var(--accent); color:#fff; font-weight:600; cursor:pointer; border:0; }
:focus-visible { outline:2px solid var(--accent); outline-offset:2px; }
.visually-hidden { position:absolute; width:1px; height:1px; overflow:hidden; clip:rect(0 0 0 0);
  white-space:nowrap; }
`;
