/** @jsxImportSource hono/jsx */
import { runsAgain } from '../../schedules/cron';
import { bodyJson } from '../schemas';
import { Payload, type PayloadJson } from './views';
import type { CircuitRow } from '../../store/circuits';
import type { FlowRow } from '../../store/flows';
import type { ListedSchedule } from '../../store/schedules';
import type { Topic } from '../../store/topics';

const when = (ms: number) => new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');

/** One button that POSTs one named thing to one action: every state change on these pages. */
function Act({ action, name, value, label, danger }: { action: string; name?: string; value?: string; label: string; danger?: boolean }) {
  return (
    <form method="post" action={action} class="inline">
      {name && <input type="hidden" name={name} value={value} />}
      <button class={danger ? 'small danger' : 'small'}>{label}</button>
    </form>
  );
}

/** Destinations in trouble and flows: each shown only when there is one. */
export function Destinations({ circuits, flows }: { circuits: CircuitRow[]; flows: FlowRow[] }) {
  if (circuits.length === 0 && flows.length === 0) return null;
  return (
    <section class="destinations">
      {circuits.length > 0 && (
        <table class="circuits">
          <caption>Destinations failing lately (circuit breakers)</caption>
          <thead><tr><th>destination</th><th>circuit</th><th>failures in a row</th><th>since</th><th>next probe</th><th /></tr></thead>
          <tbody>
            {circuits.map((c) => (
              <tr data-destination={c.destination} data-state={c.state}>
                <td>{c.destination}</td><td class={`circuit ${c.state}`}>{c.state.replace('_', '-')}</td><td>{c.failures}</td>
                <td>{when(c.since)}</td><td>{c.state === 'closed' ? '—' : when(c.probeAt)}</td>
                <td><Act action="/dashboard/destinations/reset" name="destination" value={c.destination} label="Reset" /></td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {flows.length > 0 && (
        <table class="flows">
          <caption>Flows</caption>
          <thead><tr><th>flow</th><th>rate</th><th>parallelism</th><th>state</th><th /></tr></thead>
          <tbody>
            {flows.map((f) => (
              <tr data-flow={f.key}>
                <td>{f.key}</td><td>{f.rate == null ? '—' : `${f.rate} per ${f.period} s`}</td><td>{f.parallelism ?? '—'}</td>
                <td>{f.paused ? 'paused' : 'running'}</td>
                <td><Act action={`/dashboard/flows/${f.paused ? 'resume' : 'pause'}`} name="key" value={f.key} label={f.paused ? 'Resume' : 'Pause'} /></td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

/**
 * A body's first bytes as text where they are text: a cut may split a UTF-8 character, so up to
 * three trailing bytes may be dropped before deciding it is binary.
 */
function preview(bytes: Uint8Array) {
  for (let drop = 0; drop < 4 && drop < bytes.length; drop++) {
    const tried = bodyJson(bytes.subarray(0, bytes.length - drop));
    if (tried.body !== null) return tried;
  }
  return bodyJson(bytes);
}

/** What each run's task is sent: the template's headers and body (see Payload: escaped, cut short). */
const templateOf = (s: ListedSchedule): PayloadJson => {
  const bytes = s.body && new Uint8Array(s.body);
  const cutShort = bytes !== null && s.bodySize !== null && s.bodySize > bytes.length;
  return {
    ...(cutShort ? { ...preview(bytes), total_bytes: s.bodySize! } : bodyJson(bytes)), content_type: s.contentType,
    headers: s.headers ? (JSON.parse(s.headers) as Record<string, string>) : {},
  };
};

/** The schedules tab: every schedule, its next and last run, the task of its last run, and its controls. */
export function Schedules({ schedules }: { schedules: ListedSchedule[] }) {
  if (schedules.length === 0) return <p class="empty">No schedules yet (POST /schedules makes one).</p>;
  return (
    <table class="schedules">
      <caption>Schedules</caption>
      <thead><tr><th>schedule</th><th>cron</th><th>hook</th><th>next run</th><th>last run</th><th>last task</th><th /></tr></thead>
      <tbody>
        {schedules.map((s) => (
          <tr data-schedule={s.id}>
            <td>{s.name ?? s.id}</td><td class="mono">{`${s.cron} (${s.timezone})`}</td><td class="url">{`${s.method} ${s.url}`}
              <details class="template"><summary>task template</summary><Payload title="Template" payload={templateOf(s)} /></details></td>
            <td>{s.paused ? 'paused' : !runsAgain(s.nextRunAt) ? '—' : when(s.nextRunAt)}</td><td>{s.lastRunAt ? when(s.lastRunAt) : '—'}</td>
            <td>{s.lastTaskId ? <a href={`/dashboard/tasks/${s.lastTaskId}`} class="mono">{s.lastTaskId}</a> : '—'}</td>
            <td class="controls">
              <Act action={`/dashboard/schedules/${s.id}/${s.paused ? 'resume' : 'pause'}`} label={s.paused ? 'Resume' : 'Pause'} />
              {/* Deleting takes a second click, without script: the button sits inside a <details>. */}
              <details class="confirm">
                <summary>Delete…</summary>
                <Act action={`/dashboard/schedules/${s.id}/delete`} label="Delete schedule" danger />
              </details>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** The topics tab: each topic and the endpoints a publish makes one task for. */
export function Topics({ topics }: { topics: Topic[] }) {
  if (topics.length === 0) return <p class="empty">No topics yet (PUT /topics/{'{name}'} makes one).</p>;
  return (
    <table class="topics">
      <caption>Topics</caption>
      <thead><tr><th>topic</th><th>endpoints</th><th>updated</th></tr></thead>
      <tbody>
        {topics.map((t) => (
          <tr data-topic={t.name}>
            <td class="mono">{t.name}</td>
            <td><ul class="endpoints">{t.endpoints.map((e) => <li class="url">{e}</li>)}</ul></td>
            <td>{when(t.updatedAt)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
