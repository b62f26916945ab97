/** @jsxImportSource hono/jsx */
import type { AttemptJson, TaskJson } from '../schemas';

const STATUSES = ['pending', 'in_progress', 'retry', 'completed', 'failed'] as const;
const when = (iso: string | null) => (iso ? iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '—');

export function Counts({ counts, overdue }: { counts: Record<string, number>; overdue: number | null }) {
  return (
    <section class="counts">
      {STATUSES.map((s) => (
        <a class={`count ${s}`} href={`/dashboard?status=${s}`} data-status={s}>
          <strong>{counts[s] ?? 0}</strong>
          <span>{s.replace('_', ' ')}</span>
        </a>
      ))}
      <div class="count">
        <strong>{overdue == null ? '—' : `${overdue}s`}</strong>
        <span>oldest overdue</span>
      </div>
    </section>
  );
}

/** Replays failed tasks a stretch at a time (as POST /tasks/retry does); `cursor` goes on from the last stretch. */
function ReplayFailed({ cursor }: { cursor?: string }) {
  return (
    <form method="post" action="/dashboard/replay" class="bulk">
      <input type="hidden" name="status" value="failed" />
      {cursor && <input type="hidden" name="cursor" value={cursor} />}
      <button>{cursor ? 'Replay more failed tasks' : 'Replay failed tasks'}</button>
    </form>
  );
}

export function TaskList({ tasks, status, next, failed, replayCursor }: { tasks: TaskJson[]; status?: string; next: string | null; failed: number; replayCursor?: string }) {
  return (
    <section>
      <div class="toolbar">
        <nav class="filters" aria-label="filter by status">
          <a href="/dashboard" class={!status ? 'on' : ''}>all</a>
          {STATUSES.map((s) => (
            <a href={`/dashboard?status=${s}`} class={status === s ? 'on' : ''}>{s.replace('_', ' ')}</a>
          ))}
        </nav>
        {(failed > 0 || replayCursor) && <ReplayFailed cursor={replayCursor} />}
      </div>
      <table class="tasks">
        <thead>
          <tr><th>task</th><th>status</th><th>hook</th><th>attempts</th><th>last</th><th>created</th></tr>
        </thead>
        <tbody>
          {tasks.length === 0 && (
            <tr><td colspan={6} class="empty">No tasks{status ? ` with status ${status}` : ''}.</td></tr>
          )}
          {tasks.map((t) => (
            <tr data-task={t.id}>
              <td><a href={`/dashboard/tasks/${t.id}`} class="mono">{t.id}</a></td>
              <td><span class={`badge ${t.status}`}>{t.status}</span></td>
              <td class="url"><span class="method">{t.method}</span> {t.url}</td>
              <td>{`${t.attempts} / ${t.max_retries + 1}`}</td>
              <td>{t.last_status_code ?? (t.last_error ? t.last_error.split(':')[0] : '—')}</td>
              <td>{when(t.created_at)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {next && <a class="more" href={`/dashboard?${status ? `status=${status}&` : ''}cursor=${next}`}>Older tasks →</a>}
    </section>
  );
}

export function TaskDetail({ task, attempts, payload }: { task: TaskJson; attempts: AttemptJson[]; payload?: PayloadJson }) {
  const rows: [string, string | number | null][] = [
    ['hook', `${task.method} ${task.url}`], ['attempts', `${task.attempts} (max retries ${task.max_retries}, timeout ${task.timeout}s)`],
    ['created', when(task.created_at)], ['updated', when(task.updated_at)], ['due', when(task.due_at)],
    ['completed', when(task.completed_at)], ['expires', when(task.expires_at)],
    ['last status', task.last_status_code], ['last error', task.last_error],
    // Only what applies: the flow it goes through, whom it reports to, what made it.
    ...([['flow', task.flow_key], ['callback', task.callback], ['failure callback', task.failure_callback],
      ['reports on', task.callback_of], ['made by schedule', task.schedule_id]] as [string, string | null][]).filter(([, v]) => v),
  ];
  return (
    <section class="detail">
      <p><a href="/dashboard">← all tasks</a></p>
      <h1 class="mono">{task.id} <span class={`badge ${task.status}`} id="status">{task.status}</span></h1>
      <dl>{rows.map(([k, v]) => (<><dt>{k}</dt><dd>{v ?? '—'}</dd></>))}</dl>
      <div class="actions">
        <form method="post" action={`/dashboard/tasks/${task.id}/retry`}>
          <button disabled={task.status === 'in_progress'}>Retry now</button>
        </form>
        <form method="post" action={`/dashboard/tasks/${task.id}/delete`}>
          <button class="danger">Delete</button>
        </form>
      </div>
      {payload && <Payload payload={payload} />}
      <h2>Attempts</h2>
      <table class="attempts">
        <thead><tr><th>#</th><th>started</th><th>duration</th><th>result</th><th>response (first 1 KiB)</th></tr></thead>
        <tbody>
          {attempts.length === 0 && <tr><td colspan={5} class="empty">No attempts yet.</td></tr>}
          {attempts.map((a) => (
            <tr>
              <td>{a.number}</td><td>{when(a.started_at)}</td><td>{`${a.duration_ms} ms`}</td>
              <td>{a.status_code ?? a.error}</td><td><code>{a.response ?? ''}</code></td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

// What the task sends its hook: shown escaped (JSX escapes text) and cut to PAYLOAD_SHOWN characters.
// A body read cut short (a listing reads only its first PAYLOAD_SHOWN bytes) says how many bytes it had.
export type PayloadJson = { body: string | null; body_base64: string | null; content_type: string | null; headers: Record<string, string>; total_bytes?: number };
export const PAYLOAD_SHOWN = 4096;
const cut = (s: string, p: PayloadJson) => (s.length > PAYLOAD_SHOWN ? `${s.slice(0, PAYLOAD_SHOWN)}… (${s.length - PAYLOAD_SHOWN} more characters)`
  : p.total_bytes ? `${s}… (${p.total_bytes} bytes in all)` : s);

export function Payload({ payload, title = 'Payload' }: { payload: PayloadJson; title?: string }) {
  const headers = Object.entries(payload.headers).filter(([k]) => !k.startsWith('torque-'));
  return (
    <section class="payload">
      <h2>{title}</h2>
      <dl>
        <dt>content type</dt><dd>{payload.content_type ?? '—'}</dd>
        {headers.map(([k, v]) => (<><dt class="mono">{k}</dt><dd class="mono">{v}</dd></>))}
      </dl>
      {payload.body_base64 === null ? <p class="empty">No body.</p>
        : payload.body !== null ? <pre id="payload-body">{cut(payload.body, payload)}</pre>
        : <><p>Not text; base64:</p><pre id="payload-body">{cut(payload.body_base64, payload)}</pre></>}
    </section>
  );
}

