/** @jsxImportSource hono/jsx */
import type { Child } from 'hono/jsx';
import type { AttemptJson, TaskJson } from '../schemas';
import { STYLE } from './style';

export function Layout({ title, children, authed }: { title: string; children: Child; authed: boolean }) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{`${title} · Torque`}</title>
        <style>{STYLE}</style>
      </head>
      <body>
        <header>
          <a href="/dashboard" class="brand">Torque</a>
          <nav class="tabs"><a href="/dashboard">Tasks</a><a href="/dashboard/schedules">Schedules</a></nav>
          {authed && (
            <form method="post" action="/dashboard/logout">
              <button class="link">Sign out</button>
            </form>
          )}
        </header>
        <main>{children}</main>
      </body>
    </html>
  );
}

export function Login({ error }: { error?: string }) {
  return (
    <section class="login">
      <h1>Sign in</h1>
      <p>This Torque requires an API key. The dashboard shows your app's tasks only.</p>
      {error && <p class="error" role="alert">{error}</p>}
      <form method="post" action="/dashboard/login">
        <label>
          API key <input name="api_key" type="password" autocomplete="off" required placeholder="tq_…" />
        </label>
        <button>Sign in</button>
      </form>
    </section>
  );
}

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

export function TaskList({ tasks, status, next }: { tasks: TaskJson[]; status?: string; next: string | null }) {
  return (
    <section>
      <nav class="filters" aria-label="filter by status">
        <a href="/dashboard" class={!status ? 'on' : ''}>all</a>
        {STATUSES.map((s) => (
          <a href={`/dashboard?status=${s}`} class={status === s ? 'on' : ''}>{s.replace('_', ' ')}</a>
        ))}
      </nav>
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

export function TaskDetail({ task, attempts }: { task: TaskJson; attempts: AttemptJson[] }) {
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
