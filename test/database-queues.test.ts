import { createExecutionContext, createMessageBatch, getQueueResult } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import worker from '../src';
import type { TaskMessage } from '../src/tasks/queue-messages';
import { callWith, hook, json, received, recordingQueue, waitFor } from './helpers';

// Optional per-database task queues (TASKS_k for DB_k, see docs/scaling.md): three databases, DB_1
// with its own queue, DB_2 without one (its tasks stay on TASKS).
const { DB_1 } = env as unknown as Record<'DB_1', D1Database>;
const THREE = { DATABASES: 'DB,DB_1,DB_2' };

function queues() {
  const tasks = recordingQueue();
  const tasks1 = recordingQueue();
  const bulk = recordingQueue();
  return { tasks, tasks1, bulk, vars: { ...THREE, TASKS: tasks.queue, TASKS_1: tasks1.queue, TASKS_BULK: bulk.queue } };
}
const idsIn = (q: ReturnType<typeof recordingQueue>) => q.sent.flatMap((m) => m.body.ids);
const post = async (vars: Record<string, unknown>, url: string) =>
  (await json<{ id: string }>(callWith(vars, `/?url=${encodeURIComponent(url)}`, { method: 'POST', body: 'x=1' }))).id;

/** Runs the Worker's own queue handler on these messages, as the platform delivers a batch of `queue`. */
async function deliver(queue: string, messages: { body: TaskMessage }[], vars: Record<string, unknown>) {
  const batch = createMessageBatch<TaskMessage>(queue, messages.map((m, i) => ({ id: `m${i}-${crypto.randomUUID()}`, timestamp: new Date(), attempts: 1, body: m.body })));
  const ctx = createExecutionContext();
  await worker.queue(batch, { ...env, ...vars } as Env);
  return getQueueResult(batch, ctx);
}

describe('per-database task queues', () => {
  it('sends a POST / task to its database\'s queue (TASKS for one without), a /batch to TASKS_BULK', async () => {
    const h = hook('ok');
    const { tasks, tasks1, bulk, vars } = queues();
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) ids.push(await post(vars, h.url));
    expect(new Set(ids.map((id) => id.at(-1)))).toEqual(new Set(['0', '1', '2']));
    // One message per task, each on its database's queue.
    expect(tasks1.sent.every((m) => m.body.ids.length === 1)).toBe(true);
    expect(idsIn(tasks1).sort()).toEqual(ids.filter((id) => id.endsWith('1')).sort());
    expect(idsIn(tasks).sort()).toEqual(ids.filter((id) => !id.endsWith('1')).sort());
    expect(bulk.sent).toEqual([]);
    // A /batch stays one message on TASKS_BULK, whichever database it went to.
    const batch = await json<{ tasks: { id: string }[] }>(callWith(vars, '/batch', {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify(Array.from({ length: 5 }, () => ({ url: h.url }))),
    }));
    const batchIds = batch.tasks.map((t) => t.id);
    expect(bulk.sent).toHaveLength(1);
    expect(bulk.sent[0].body.ids.sort()).toEqual([...batchIds].sort());
    for (const q of [tasks, tasks1]) expect(idsIn(q).filter((id) => batchIds.includes(id))).toEqual([]);
  });

  it('consumes a task sent via TASKS_1 and delivers it; its retry goes back to TASKS_1', async () => {
    const h = hook('seq', 'codes=500,200');
    const { tasks, tasks1, vars } = queues();
    let id = '';
    for (let i = 0; i < 100 && !id.endsWith('1'); i++) id = await post(vars, h.url);
    expect(id.endsWith('1'), 'a task in DB_1').toBe(true);
    const status = async () => (await DB_1.prepare('SELECT status FROM tasks WHERE id = ?').bind(id).first<{ status: string }>('status')) as unknown as string;
    // Delivers what TASKS_1 holds for the task now (a claimed task handed back on a busy machine
    // comes back there too) until the task reaches `want`.
    const play = (want: string) =>
      waitFor(async () => {
        const now = tasks1.sent.filter((m) => m.body.ids.includes(id) && !m.delaySeconds);
        tasks1.sent.splice(0, tasks1.sent.length, ...tasks1.sent.filter((m) => !now.includes(m)));
        if (now.length) expect((await deliver('torque-tasks-1', now, vars)).ackAll).toBe(true);
        return (await status()) === want;
      }, `task ${id} ${want}`, 20_000);
    await play('retry');
    // The retry's message (delayed) went to the task's database's queue, not to TASKS.
    const retry = tasks1.sent.find((m) => m.body.ids.includes(id) && m.delaySeconds);
    expect(retry, JSON.stringify(tasks1.sent)).toBeDefined();
    expect(idsIn(tasks)).not.toContain(id);
    // Time passes: the retry is due, and its message arrives.
    await DB_1.prepare('UPDATE tasks SET due_at = ? WHERE id = ?').bind(Date.now() - 1, id).run();
    tasks1.sent.splice(tasks1.sent.indexOf(retry!), 1, { ...retry!, delaySeconds: 0 });
    await play('completed');
    expect((await received(h.key)).map((r) => r.headers['torque-task-id'])).toEqual([id, id]);
    expect((await json(callWith(vars, `/tasks/${id}`))).status).toBe('completed');
  });
});
