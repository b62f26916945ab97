import { Hono, type Context } from 'hono';
import { QSTASH_LABEL, QSTASH_RETRY_DELAY, shownHeaders } from '../../hook/qstash';
import { newId } from '../../ids';
import { cronProblem, nextRun, runsAgain } from '../../schedules/cron';
import { removeSchedule, saveSchedule, setPaused } from '../../schedules/manage';
import { getSchedule, listSchedules, type ListedSchedule, type ScheduleRow } from '../../store/schedules';
import { apiError, notFound } from '../errors';
import { limitBody, rateLimitUnless } from '../middleware';
import { pathName } from '../routes/params';
import { scope } from '../scope';
import type { AppEnv } from '../types';
import { checkName, publishOptions } from './headers';
import { applyFlows, decodeDestination, messageRows, pathDestination } from './publish';

// QStash schedules on Torque's schedules: the cron tick makes each run's task from the template,
// whose stored headers carry the QStash mark (signed deliveries) and Upstash-Schedule-Id.

// A schedule id is a path segment (as a native name) that fits the ids column as Torque's own do.
const ID = pathName.max(64, 'must be at most 64 characters');

/** "CRON_TZ=Europe/Berlin 0 9 * * *" -> the expression and its zone (UTC without the prefix). */
export function splitCron(value: string): { cron: string; timezone: string } {
  const m = value.trim().match(/^CRON_TZ=(\S+)\s+(.+)$/);
  return m ? { cron: m[2].trim(), timezone: m[1] } : { cron: value.trim(), timezone: 'UTC' };
}

// A listing reads each body up to this many bytes (500 whole bodies of up to MAX_BODY_BYTES would not
// fit an isolate's memory); a longer one is left out there and shown by GET /v2/schedules/{id}.
const LISTED_BODY_BYTES = 16 * 1024;

function scheduleJson(s: ScheduleRow | ListedSchedule) {
  const h = s.headers ? (JSON.parse(s.headers) as Record<string, string>) : {};
  const header = shownHeaders(h, s.contentType);
  const cut = 'bodySize' in s && s.body !== null && s.bodySize !== null && s.bodySize > s.body.byteLength;
  const body = s.body && !cut ? new TextDecoder().decode(s.body as unknown as Uint8Array) : undefined;
  return {
    scheduleId: s.id, cron: s.timezone === 'UTC' ? s.cron : `CRON_TZ=${s.timezone} ${s.cron}`, createdAt: s.createdAt,
    destination: s.url, method: s.method, header, ...(body !== undefined ? { body } : {}),
    retries: s.maxRetries, timeout: s.timeout, isPaused: s.paused, callerIp: '',
    ...(s.flowKey ? { flowControlKey: s.flowKey } : {}), ...(h[QSTASH_LABEL] ? { label: h[QSTASH_LABEL] } : {}),
    ...(h[QSTASH_RETRY_DELAY] ? { retryDelayExpression: h[QSTASH_RETRY_DELAY] } : {}),
    ...(s.lastRunAt ? { lastScheduleTime: s.lastRunAt } : {}), ...(!s.paused && runsAgain(s.nextRunAt) ? { nextScheduleTime: s.nextRunAt } : {}),
  };
}


async function pause(c: Context<AppEnv>, paused: boolean) {
  const id = c.req.param('id')!;
  if (!(await setPaused(scope(c), id, paused))) throw notFound('schedule', id);
  return c.body(null, 200);
}

/**
 * A new schedule counts against the app's enqueue rate limit, as POST /schedules does (each makes
 * tasks for ever); replacing one by its id (an upsert) makes none, so it is not counted.
 */
const replacesOne = async (c: Context<AppEnv>) => {
  const id = c.req.header('upstash-schedule-id');
  return id !== undefined && (await getSchedule(c.get('db'), c.get('appId'), id)) !== undefined;
};

// Mounted at /v2/schedules.
export const schedulesV2 = new Hono<AppEnv>()
  // Before the create route, whose path would take them (a destination has 4 segments or more).
  .on(['PATCH', 'POST'], '/:id/pause', (c) => pause(c, true))
  .on(['PATCH', 'POST'], '/:id/resume', (c) => pause(c, false))
  .post('/*', limitBody(), rateLimitUnless(replacesOne), async (c) => {
    const dest = decodeDestination(pathDestination(c, '/schedules/'));
    if (!/^https?:\/\//i.test(dest)) throw apiError(501, 'not_implemented', 'destination: Torque schedules call a URL (not a URL group); give an http(s) URL');
    const spec = c.req.header('upstash-cron');
    if (!spec) throw apiError(400, 'invalid_request', 'Upstash-Cron: is required (e.g. "*/5 * * * *" or "CRON_TZ=Europe/Berlin 0 9 * * *")');
    const { cron, timezone } = splitCron(spec);
    const problem = cronProblem(cron, timezone);
    if (problem) throw apiError(400, 'invalid_request', `Upstash-Cron: ${problem.field === 'timezone' ? 'CRON_TZ ' : ''}${problem.message}`);
    const o = publishOptions((n) => c.req.header(n), c.req.raw.headers.keys());
    for (const [h, v] of [['Upstash-Callback', o.callback], ['Upstash-Failure-Callback', o.failureCallback], ['Upstash-Delay', o.delay], ['Upstash-Not-Before', o.notBefore]] as const) {
      if (v !== undefined) throw apiError(501, 'not_implemented', `${h}: Torque schedules do not take it (each run's task is due at its run)`);
    }
    const id = c.req.header('upstash-schedule-id') ?? newId();
    checkName(ID, id, 'Upstash-Schedule-Id');
    const now = Date.now();
    const bytes = new Uint8Array(await c.req.arrayBuffer());
    // The template is checked exactly as a message would be (host policy, headers, body size).
    const s = scope(c);
    const [t] = await messageRows(s, { dest: { url: dest }, o: { ...o, deduplicationId: undefined, contentBasedDeduplication: false }, body: bytes.length ? bytes : null }, { now });
    const headers = JSON.stringify({ ...JSON.parse(t.headers!), 'upstash-schedule-id': id });
    // A new schedule is held to the app's limit (MAX_SCHEDULES_PER_APP), as POST /schedules.
    const saved = await saveSchedule(s, {
      id, name: null, cron, timezone, url: t.url, method: t.method!, headers, body: t.body ?? null,
      contentType: t.contentType ?? null, timeout: t.timeout, maxRetries: t.maxRetries, flowKey: t.flowKey ?? null, paused: false,
      nextRunAt: nextRun(cron, timezone, now), createdAt: now, updatedAt: now,
    });
    const max = s.config.MAX_SCHEDULES_PER_APP;
    if (!saved) throw apiError(409, 'limit_reached', `this app has ${max} schedules, the most MAX_SCHEDULES_PER_APP allows: delete one first`);
    await applyFlows(s, [o], now);
    return c.json({ scheduleId: id }, 201);
  })
  .get('/', async (c) => {
    const all: ScheduleRow[] = [];
    for (let after: string | undefined; ;) {
      const page = await listSchedules(c.get('db'), c.get('appId'), 500, after, LISTED_BODY_BYTES);
      all.push(...page);
      if (page.length < 500 || all.length >= 5000) break;
      after = page.at(-1)!.id;
    }
    return c.json(all.map(scheduleJson));
  })
  .get('/:id', async (c) => {
    const s = await getSchedule(c.get('db'), c.get('appId'), c.req.param('id'));
    if (!s) throw notFound('schedule', c.req.param('id'));
    return c.json(scheduleJson(s));
  })
  .delete('/:id', async (c) => {
    if (!(await removeSchedule(scope(c), c.req.param('id')))) throw notFound('schedule', c.req.param('id'));
    return c.body(null, 200);
  });
