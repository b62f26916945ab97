/** @jsxImportSource hono/jsx */
// The last hour's throughput as a server-rendered SVG bar chart: no script, no build step.
type Minute = { minute: number; enqueued: number; completed: number; failed: number };

export function ThroughputChart({ series, nowMinute }: { series: Minute[]; nowMinute: number }) {
  const byMinute = new Map(series.map((m) => [m.minute, m]));
  const minutes = Array.from({ length: 60 }, (_, i) => nowMinute - 59 + i);
  const peak = Math.max(1, ...series.map((m) => Math.max(m.enqueued, m.completed + m.failed)));
  const W = 1000, H = 120, bar = W / 60;
  const y = (n: number) => (n / peak) * (H - 14);
  return (
    <figure class="chart">
      <svg viewBox={`0 0 ${W} ${H + 16}`} role="img" aria-label="tasks per minute, last hour">
        {minutes.map((m, i) => {
          const d = byMinute.get(m);
          if (!d) return null;
          const done = y(d.completed), bad = y(d.failed), inn = y(d.enqueued);
          return (
            <g>
              <title>{`${new Date(m * 60_000).toISOString().slice(11, 16)}Z: ${d.enqueued} enqueued, ${d.completed} completed, ${d.failed} failed`}</title>
              <rect x={i * bar + 1} y={H - inn} width={bar / 2 - 1} height={inn} class="enq" />
              <rect x={i * bar + bar / 2} y={H - done - bad} width={bar / 2 - 1} height={done} class="ok" />
              <rect x={i * bar + bar / 2} y={H - bad} width={bar / 2 - 1} height={bad} class="bad" />
            </g>
          );
        })}
        <line x1="0" y1={H} x2={W} y2={H} class="axis" />
        <text x="0" y={H + 13}>-60 min</text>
        <text x={W} y={H + 13} text-anchor="end">now</text>
        <text x={W} y="10" text-anchor="end">{`peak ${peak}/min`}</text>
      </svg>
      <figcaption>
        <span class="key enq" /> enqueued <span class="key ok" /> completed <span class="key bad" /> failed, per minute
      </figcaption>
    </figure>
  );
}
