import { createScheduledController } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { afterEach, describe, expect, it, vi } from 'vitest';
import worker from '../src';
import { afterWalk, call, consume, enqueue, hook } from './helpers';

// Workers Logs indexes the fields of a logged object: each event is one object with `event` set.
const logged = (spy: { mock: { calls: unknown[][] } }, event: string) =>
  spy.mock.calls.map((c) => c[0]).filter((x): x is Record<string, unknown> => typeof x === 'object' && x !== null && (x as { event?: string }).event === event);

afterEach(() => vi.restoreAllMocks());

describe('structured event logs', () => {
  it('logs a refused enqueue with its status, error code and message', async () => {
    const warn = vi.spyOn(console, 'warn');
    expect((await call('/?url=not-a-url', { method: 'POST', body: 'x' })).status).toBe(400);
    expect(logged(warn, 'enqueue.refused')).toEqual([expect.objectContaining({ path: '/', status: 400, code: 'invalid_request', message: expect.stringMatching(/^url: /) })]);
  });

  it('logs a failed attempt with its outcome and what comes next', async () => {
    const { task } = await enqueue(hook('status', 'code=500').url);
    const warn = vi.spyOn(console, 'warn');
    await consume([task.id]);
    expect(logged(warn, 'attempt.failed')).toEqual([expect.objectContaining({ task: task.id, attempt: 1, status_code: 500, next: 'retry' })]);
  });

  it('logs what a sweep did', async () => {
    await enqueue(hook('ok').url);
    const log = vi.spyOn(console, 'log');
    await worker.scheduled(createScheduledController({ cron: '* * * * *', scheduledTime: afterWalk(3_600_000) }), env);
    const [report] = logged(log, 'sweep.report');
    expect(report).toMatchObject({ failed: [], behind: [] });
    expect(report.resent).toBeGreaterThanOrEqual(1);
  });
});
