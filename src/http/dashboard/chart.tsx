/** @jsxImportSource hono/jsx */
// The last hour's throughput as a server-rendered SVG bar chart: no script, no build step.
type Minute = { minute: number; enqueued: number; completed: number; failed: number };

/** Round steps (1, 2, 5 × 10^k) for the y-axis, so that about three gridlines cover the peak. */
function yTicks(peak: number): number[] {
  const rough = Math.max(1, peak) / 3;
  const unit = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((m) => m * unit).find((s) => s >= rough)!;
  const ticks = [0];
  while (ticks[ticks.length - 1] < peak) ticks.push(ticks[ticks.length - 1] + Math.max(1, Math.round(step)));
  return ticks.length > 1 ? ticks : [0, 1];
}

export function ThroughputChart({ series, nowMinute }: { series: Minute[]; nowMinute: number }) {
  const byMinute = new Map(series.map((m) => [m.minute, m]));
  const minutes = Array.from({ length: 60 }, (_, i) => nowMinute - 59 + i);
  const peak = Math.max(0, ...series.map((m) => Math.max(m.enqueued, m.completed + m.failed)));
  const ticks = yTicks(peak);
  const top = ticks[ticks.length - 1];
  const W = 1000, H = 130, L = 44, T = 8, bar = (W - L) / 60;
  const y = (n: number) => (n / top) * (H - T);
  return (
    <figure class="chart">
      <svg viewBox={`0 0 ${W} ${H + 16}`} role="img" aria-label="tasks per minute, last hour">
        <g class="y-axis">
          {ticks.map((t) => (
            <g>
              <line x1={L} y1={H - y(t)} x2={W} y2={H - y(t)} class={t === 0 ? 'axis' : 'grid'} />
              <text x={L - 6} y={H - y(t) + 3} text-anchor="end">{String(t)}</text>
            </g>
          ))}
        </g>
        {minutes.map((m, i) => {
          const d = byMinute.get(m);
          if (!d) return null;
          const done = y(d.completed), bad = y(d.failed), inn = y(d.enqueued);
          const x = L + i * bar;
          return (
            <g>
              <title>{`${new Date(m * 60_000).toISOString().slice(11, 16)}Z: ${d.enqueued} enqueued, ${d.completed} completed, ${d.failed} failed`}</title>
              <rect x={x + 1} y={H - inn} width={bar / 2 - 1} height={inn} class="enq" />
              <rect x={x + bar / 2} y={H - done - bad} width={bar / 2 - 1} height={done} class="ok" />
              <rect x={x + bar / 2} y={H - bad} width={bar / 2 - 1} height={bad} class="bad" />
            </g>
          );
        })}
        <text x={L} y={H + 13}>-60 min</text>
        <text x={W} y={H + 13} text-anchor="end">now</text>
      </svg>
      <figcaption>
        tasks per minute: <span class="key enq" /> enqueued <span class="key ok" /> completed <span class="key bad" /> failed
      </figcaption>
    </figure>
  );
}
