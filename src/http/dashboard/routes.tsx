/** @jsxImportSource hono/jsx */
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { csrf } from 'hono/csrf';
import { createMiddleware } from 'hono/factory';
import { dashboardActions } from './actions';
import { documentDashboard } from './documented';
import { ThroughputChart } from './chart';
import { Destinations, Schedules, Topics } from './destinations';
import { Layout, Login } from './layout';
import { appCircuits } from '../../store/circuits';
import { listFlows } from '../../store/flows';
import { listSchedules } from '../../store/schedules';
import { listTopics } from '../../store/topics';
import { Counts, PAYLOAD_SHOWN, TaskDetail, TaskList } from './views';
import { DEFAULT_APP } from '../../store/apps';
import { TASK_STATUSES, type TaskStatus } from '../../store/schema';
import { appStats, deleteTask, getTaskWithBody, listAttempts, listTasks, minuteSeries } from '../../tasks/app-tasks';
import { appForKey } from '../middleware';
import { resource } from '../resource';
import { scope } from '../scope';
import { routed } from '../route-table';
import { attemptsJson, taskJson, taskWithBodyJson } from '../schemas';
import { replay } from '../../tasks/replay';
import type { AppEnv } from '../types';

// Server-rendered pages over the same data functions as the API. With AUTHENTICATE on, the
// sign-in form puts the API key in an HttpOnly, SameSite=Strict cookie scoped to /dashboard;
// state-changing forms are POSTs, also guarded by Origin checking (hono/csrf).
const COOKIE = 'torque_key';

/** The dashboardCookie guard (see ../guard.ts): every page and form but sign-in and sign-out declares it. */
export const signedIn = createMiddleware<AppEnv>(async (c, next) => {
  if (!c.get('config').AUTHENTICATE) {
    c.set('appId', DEFAULT_APP);
    return next();
  }
  try {
    c.set('appId', await appForKey(c.get('db'), getCookie(c, COOKIE)));
  } catch {
    c.status(401);
    return c.html(<Layout title="Sign in" authed={false}><Login /></Layout>);
  }
  await next();
});

// Mounted at /dashboard (app.ts). Its routes are plain Hono routes (HTML, form posts), documented
// in documented.ts with the cookie this resource declares, which the guard enforces.
const dashboard = resource('dashboardCookie');
export const dashboardApp = dashboard.app();
documentDashboard(dashboardApp, dashboard.security);
dashboardApp.use('*', routed(csrf()));

dashboardApp.post('/login', async (c) => {
  const form = await c.req.parseBody();
  const key = typeof form.api_key === 'string' ? form.api_key : '';
  try {
    await appForKey(c.get('db'), key);
  } catch {
    c.status(401);
    return c.html(<Layout title="Sign in" authed={false}><Login error="That API key is unknown or revoked." /></Layout>);
  }
  setCookie(c, COOKIE, key, {
    path: '/dashboard', httpOnly: true, sameSite: 'Strict', secure: new URL(c.req.url).protocol === 'https:', maxAge: 12 * 3600,
  });
  return c.redirect('/dashboard', 303);
});

dashboardApp.post('/logout', (c) => {
  deleteCookie(c, COOKIE, { path: '/dashboard' });
  return c.redirect('/dashboard', 303);
});

dashboardApp.route('/', dashboardActions);

dashboardApp.get('/schedules', async (c) =>
  c.html(
    <Layout title="Schedules" tab="schedules" authed={c.get('config').AUTHENTICATE}>
      <Schedules schedules={await listSchedules(c.get('db'), c.get('appId'), 100, undefined, PAYLOAD_SHOWN)} />
    </Layout>,
  ));

dashboardApp.get('/topics', async (c) =>
  c.html(
    <Layout title="Topics" tab="topics" authed={c.get('config').AUTHENTICATE}>
      <Topics topics={await listTopics(c.get('db'), c.get('appId'), 1000)} />
    </Layout>,
  ));

/** What the last bulk replay did, from the redirect's query (digits and a task id only). */
function replayNotice(replayed?: string, more?: string): { notice?: string; replayCursor?: string } {
  if (!/^\d{1,6}$/.test(replayed ?? '')) return {};
  const replayCursor = /^[0-9A-Za-z]{1,64}$/.test(more ?? '') ? more : undefined;
  return { notice: `Replayed ${replayed} failed task${replayed === '1' ? '' : 's'}${replayCursor ? '; more may be further back.' : '.'}`, replayCursor };
}

dashboardApp.get('/', async (c) => {
  const raw = c.req.query('status');
  const status = TASK_STATUSES.includes(raw as TaskStatus) ? (raw as TaskStatus) : undefined;
  const cursor = /^[0-9A-Z]{1,64}$/.test(c.req.query('cursor') ?? '') ? c.req.query('cursor') : undefined;
  const now = Date.now();
  const minute = Math.floor(now / 60_000);
  const [stats, series, page, circuits, flows] = await Promise.all([
    appStats(c.get('shards'), c.get('appId'), now),
    minuteSeries(c.get('shards'), c.get('appId'), minute - 59),
    listTasks(c.get('shards'), c.get('appId'), { status, before: cursor, limit: 50 }),
    appCircuits(c.get('db'), c.get('appId'), 50),
    listFlows(c.get('db'), c.get('appId'), 50),
  ]);
  const { tasks, next } = page;
  const counts = stats.tasks;
  const overdue = stats.oldest_overdue_seconds;
  const { notice, replayCursor } = replayNotice(c.req.query('replayed'), c.req.query('more'));
  return c.html(
    <Layout title="Tasks" tab="tasks" notice={notice} authed={c.get('config').AUTHENTICATE}>
      <Counts counts={counts} overdue={overdue} />
      <ThroughputChart series={series} nowMinute={minute} />
      <Destinations circuits={circuits} flows={flows} />
      <TaskList tasks={tasks.map(taskJson)} status={status} next={next} failed={counts.failed ?? 0} replayCursor={replayCursor} />
    </Layout>,
  );
});

dashboardApp.get('/tasks/:id', async (c) => {
  const task = await getTaskWithBody(c.get('shards'), c.get('appId'), c.req.param('id'));
  if (!task) {
    c.status(404);
    return c.html(<Layout title="Not found" authed={c.get('config').AUTHENTICATE}><p>No such task. <a href="/dashboard">All tasks</a></p></Layout>);
  }
  const archived = task.attempts > 1 ? await listAttempts(c.get('shards'), task.id) : [];
  return c.html(
    <Layout title={task.id} tab="tasks" authed={c.get('config').AUTHENTICATE}>
      <TaskDetail task={taskJson(task)} attempts={attemptsJson(task, archived)} payload={taskWithBodyJson(task)} />
    </Layout>,
  );
});

dashboardApp.post('/tasks/:id/retry', async (c) => {
  await replay(scope(c), c.req.param('id'));
  return c.redirect(`/dashboard/tasks/${encodeURIComponent(c.req.param('id'))}`, 303);
});

dashboardApp.post('/tasks/:id/delete', async (c) => {
  await deleteTask(c.get('shards'), c.get('appId'), c.req.param('id'));
  return c.redirect('/dashboard', 303);
});
