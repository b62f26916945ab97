// The dashboard's whole stylesheet, inlined so the page is one request and needs no assets.
export const STYLE = `
:root { --fg:#1d2330; --muted:#6b7385; --line:#e3e6ee; --bg:#f7f8fb; --card:#fff; --accent:#3056d3;
  --ok:#1f9d55; --bad:#d64545; --wait:#b7791f; --run:#3056d3; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", Arial, sans-serif; color:var(--fg); background:var(--bg); }
header { display:flex; justify-content:space-between; align-items:center; padding:12px 24px; background:#1d2330; }
header .brand { color:#fff; font-weight:700; font-size:18px; text-decoration:none; letter-spacing:.5px; }
main { max-width:1100px; margin:0 auto; padding:24px; }
a { color:var(--accent); }
h1 { font-size:20px; margin:0 0 16px; } h2 { font-size:16px; margin:24px 0 8px; }
.mono, code { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size:12.5px; }
.counts { display:grid; grid-template-columns:repeat(6, 1fr); gap:12px; margin-bottom:20px; }
.count { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:12px 14px; text-decoration:none; color:inherit; }
.count strong { display:block; font-size:24px; } .count span { color:var(--muted); }
.count.completed strong { color:var(--ok); } .count.failed strong { color:var(--bad); }
.count.retry strong { color:var(--wait); } .count.in_progress strong { color:var(--run); }
.chart { background:var(--card); border:1px solid var(--line); border-radius:8px; margin:0 0 20px; padding:12px 14px; }
.chart svg { width:100%; height:auto; display:block; } .chart text { font-size:10px; fill:var(--muted); }
.chart figcaption { color:var(--muted); font-size:12px; }
rect.enq, .key.enq { fill:#a9b8ec; background:#a9b8ec; } rect.ok, .key.ok { fill:var(--ok); background:var(--ok); }
rect.bad, .key.bad { fill:var(--bad); background:var(--bad); } .axis { stroke:#c3c8d4; } .grid { stroke:var(--line); stroke-dasharray:3 3; }
.key { display:inline-block; width:10px; height:10px; border-radius:2px; margin:0 4px 0 10px; }
.toolbar { display:flex; justify-content:space-between; align-items:center; gap:12px; margin-bottom:10px; flex-wrap:wrap; }
.filters { display:flex; gap:6px; }
.notice { background:#e6ecfb; border:1px solid #c9d5f6; color:var(--fg); border-radius:8px; padding:10px 14px; margin:0 0 16px; }
form.inline { display:inline; margin:0; } button.small { padding:3px 10px; font-size:12.5px; }
td.controls { white-space:nowrap; } td.controls form, td.controls details { display:inline-block; vertical-align:top; margin-left:6px; }
details.confirm summary { cursor:pointer; color:var(--bad); font-size:12.5px; padding:4px 0; list-style:none; }
details.confirm summary::-webkit-details-marker { display:none; } details.confirm[open] summary { color:var(--muted); }
ul.endpoints { margin:0; padding:0; list-style:none; } ul.endpoints li { max-width:none; }
.filters a { padding:4px 10px; border-radius:14px; border:1px solid var(--line); background:var(--card); text-decoration:none; color:var(--fg); }
.filters a.on { background:var(--fg); color:#fff; border-color:var(--fg); }
table { width:100%; border-collapse:collapse; background:var(--card); border:1px solid var(--line); border-radius:8px; overflow:hidden; }
th, td { text-align:left; padding:8px 10px; border-bottom:1px solid var(--line); vertical-align:top; }
th { font-weight:600; color:var(--muted); font-size:12px; text-transform:uppercase; letter-spacing:.4px; }
td.url { max-width:380px; overflow:hidden; text-overflow:ellipsis; white-space:nowrap; }
table.tasks td:last-child, table.tasks td:nth-child(4) { white-space:nowrap; }
.tabs { display:flex; gap:6px; margin-right:auto; margin-left:18px; }
.tabs a { color:#cfd6e4; text-decoration:none; font-weight:600; padding:5px 12px; border-radius:6px; } .tabs a:hover { color:#fff; }
.tabs a.on { color:#fff; background:rgba(255,255,255,.14); }
.destinations { display:grid; gap:12px; margin:16px 0; } caption { text-align:left; font-weight:600; padding:8px 10px; }
.circuit.open { color:var(--bad); font-weight:600; } .circuit.half_open { color:var(--wait); font-weight:600; }
.method { font-weight:600; font-size:11px; color:var(--muted); } .empty { color:var(--muted); text-align:center; padding:24px; }
.badge { padding:2px 8px; border-radius:10px; font-size:12px; font-weight:600; background:#eef0f5; }
.badge.completed { background:#e3f6ea; color:var(--ok); } .badge.failed { background:#fde8e8; color:var(--bad); }
.badge.retry { background:#fdf3e1; color:var(--wait); } .badge.in_progress { background:#e6ecfb; color:var(--run); }
.more { display:inline-block; margin-top:10px; }
dl { display:grid; grid-template-columns:140px 1fr; gap:6px 12px; background:var(--card); border:1px solid var(--line); border-radius:8px; padding:14px; }
dt { color:var(--muted); } dd { margin:0; word-break:break-all; }
.actions { display:flex; gap:8px; margin:14px 0; }
button { font:inherit; padding:6px 14px; border-radius:6px; border:1px solid var(--accent); background:var(--accent); color:#fff; cursor:pointer; }
button:disabled { opacity:.5; cursor:not-allowed; } button.danger { background:#fff; color:var(--bad); border-color:var(--bad); }
button.link { background:none; border:none; color:#cfd6e6; padding:0; }
.login { max-width:420px; margin:40px auto; background:var(--card); border:1px solid var(--line); border-radius:8px; padding:24px; }
.login input { display:block; width:100%; margin:6px 0 12px; padding:8px; border:1px solid var(--line); border-radius:6px; font:inherit; }
.error { color:var(--bad); }
@media (max-width: 800px) { .counts { grid-template-columns:repeat(3, 1fr); } }
`;
