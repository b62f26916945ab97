/** @jsxImportSource hono/jsx */
import type { CircuitRow } from '../../store/circuits';
import type { FlowRow } from '../../store/flows';
import type { ScheduleRow } from '../../store/schedules';

const when = (ms: number) => new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');

/** Destinations in trouble and flows: each shown only when there is one. */
export function Destinations({ circuits, flows }: { circuits: CircuitRow[]; flows: FlowRow[] }) {
  if (circuits.length === 0 && flows.length === 0) return null;
  return (
    <section class="destinations">
      {circuits.length > 0 && (
        <table class="circuits">
          <caption>Destinations failing lately (circuit breakers)</caption>
          <thead><tr><th>destination</th><th>circuit</th><th>failures in a row</th><th>since</th><th>next probe</th></tr></thead>
          <tbody>
            {circuits.map((c) => (
              <tr data-destination={c.destination} data-state={c.state}>
                <td>{c.destination}</td><td class={`circuit ${c.state}`}>{c.state.replace('_', '-')}</td><td>{c.failures}</td>
                <td>{when(c.since)}</td><td>{c.state === 'closed' ? '—' : when(c.probeAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {flows.length > 0 && (
        <table class="flows">
          <caption>Flows</caption>
          <thead><tr><th>flow</th><th>rate</th><th>parallelism</th><th>state</th></tr></thead>
          <tbody>
            {flows.map((f) => (
              <tr data-flow={f.key}>
                <td>{f.key}</td><td>{f.rate == null ? '—' : `${f.rate} per ${f.period} s`}</td><td>{f.parallelism ?? '—'}</td>
                <td>{f.paused ? 'paused' : 'running'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

/** The schedules tab: every schedule, its next and last run, and the task of its last run. */
export function Schedules({ schedules }: { schedules: ScheduleRow[] }) {
  if (schedules.length === 0) return <p class="empty">No schedules yet (POST /schedules makes one).</p>;
  return (
    <table class="schedules">
      <caption>Schedules</caption>
      <thead><tr><th>schedule</th><th>cron</th><th>hook</th><th>next run</th><th>last run</th><th>last task</th></tr></thead>
      <tbody>
        {schedules.map((s) => (
          <tr data-schedule={s.id}>
            <td>{s.name ?? s.id}</td><td class="mono">{`${s.cron} (${s.timezone})`}</td><td class="url">{s.url}</td>
            <td>{s.paused ? 'paused' : s.nextRunAt > 8e15 ? '—' : when(s.nextRunAt)}</td><td>{s.lastRunAt ? when(s.lastRunAt) : '—'}</td>
            <td>{s.lastTaskId ? <a href={`/dashboard/tasks/${s.lastTaskId}`} class="mono">{s.lastTaskId}</a> : '—'}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
