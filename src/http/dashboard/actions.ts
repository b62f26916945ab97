// The dashboard's buttons: each a form POST (Origin-checked by hono/csrf, signed in by the cookie,
// like the task actions) doing what the matching API call does, then back to the page it came from.
import { Hono, type Context } from 'hono';
import { z } from 'zod';
import { resetDestination } from '../../flow/reset';
import { pauseFlow } from '../../flow/limits';
import { removeSchedule, setPaused } from '../../schedules/manage';
import { replayMany } from '../../tasks/replay';
import { apiError, notFound } from '../errors';
import { flowKey } from '../routes/params';
import { scope } from '../scope';
import type { AppEnv } from '../types';


/** One named form field, validated like the API's own parameter. */
async function field<T>(form: Promise<Record<string, unknown>>, name: string, schema: z.ZodType<T>): Promise<T> {
  const parsed = schema.safeParse((await form)[name]);
  if (!parsed.success) throw apiError(400, 'invalid_request', `${name}: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  return parsed.data;
}

export const dashboardActions = new Hono<AppEnv>()
  // Replays one stretch of failed tasks (as POST /tasks/retry); the page offers the next stretch.
  // Rate-limited by the guard (its declaration answers 429, see documented.ts).
  .post('/replay', async (c) => {
    const cursor = await field(c.req.parseBody(), 'cursor', z.string().regex(/^[0-9A-Za-z]{1,64}$/).optional());
    const { replayed, next } = await replayMany(scope(c), { status: 'failed', before: cursor });
    return c.redirect(`/dashboard?replayed=${replayed.length}${next ? `&more=${encodeURIComponent(next)}` : ''}`, 303);
  })
  .post('/destinations/reset', async (c) => {
    const destination = await field(c.req.parseBody(), 'destination', z.string().min(1).max(300));
    if (!(await resetDestination(scope(c), destination))) throw notFound('circuit', destination);
    return c.redirect('/dashboard', 303);
  })
  .post('/flows/pause', (c) => flowButton(c, true))
  .post('/flows/resume', (c) => flowButton(c, false))
  .post('/schedules/:id/pause', (c) => scheduleButton(c, true))
  .post('/schedules/:id/resume', (c) => scheduleButton(c, false))
  .post('/schedules/:id/delete', async (c) => {
    if (!(await removeSchedule(scope(c), c.req.param('id')))) throw notFound('schedule', c.req.param('id'));
    return c.redirect('/dashboard/schedules', 303);
  });

async function flowButton(c: Context<AppEnv>, pause: boolean) {
  const key = await field(c.req.parseBody(), 'key', flowKey);
  await pauseFlow(scope(c), key, pause);
  return c.redirect('/dashboard', 303);
}

async function scheduleButton(c: Context<AppEnv>, pause: boolean) {
  if (!(await setPaused(scope(c), c.req.param('id') ?? '', pause))) throw notFound('schedule', c.req.param('id'));
  return c.redirect('/dashboard/schedules', 303);
}
