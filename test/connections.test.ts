// The consumer under the platform's limit of six outgoing connections per invocation
// (connection-limit.ts enforces it as production does: a seventh call waits for one of six).
import { describe, expect, it } from 'vitest';
import { HOOK_CONCURRENCY } from '../src/dispatch/consumer';
import { sixConnections } from './connection-limit';
import { call, claimed, consume, enqueue, hook, received } from './helpers';

/** A queue whose sends take `ms` to be accepted (a slow queue API), counting them. */
function slowQueue(ms: number) {
  const sent: unknown[] = [];
  const accept = async (what: unknown) => {
    await new Promise((r) => setTimeout(r, ms));
    sent.push(what);
  };
  return { sent, queue: { send: accept, sendBatch: accept } as unknown as Queue };
}

describe('one budget for the invocation’s connections', () => {
  it('with hung hooks and background queue sends holding the six connections, no hook starts after a DELETE answered', { timeout: 60_000 }, async () => {
    expect((await call('/flows/held-conn/pause', { method: 'POST' })).status).toBe(200);
    const hung = hook('sleep', 'ms=6000');
    const brief = hook('sleep', 'ms=600');
    const victim = hook('ok');
    const ids: string[] = [];
    for (let i = 0; i < HOOK_CONCURRENCY - 1; i++) ids.push((await enqueue(hung.url, 'x', { timeout: '10' })).task.id);
    ids.push((await enqueue(brief.url)).task.id); // frees one slot after 600 ms
    // Held back by their paused flow: each hold-back sends a message, which takes 4 s to be accepted.
    for (let i = 0; i < 2; i++) ids.push((await enqueue(victim.url, 'x', { flow_key: 'held-conn' })).task.id);
    const doomed = (await enqueue(victim.url)).task.id;
    ids.push(doomed);
    const platform = sixConnections();
    const slow = slowQueue(4000);
    const uninstall = platform.install();
    let answered = 0;
    try {
      const running = consume(ids, { TASKS: platform.queue(slow.queue), TASKS_BULK: platform.queue(slow.queue) });
      await claimed(doomed);
      const res = await call(`/tasks/${doomed}`, { method: 'DELETE' });
      answered = Date.now();
      expect(res.status).toBe(204);
      await running;
    } finally {
      uninstall();
    }
    expect(slow.sent.length).toBeGreaterThanOrEqual(2); // the background sends happened
    // It may have started before the DELETE answered (then that attempt ran), never after.
    for (const c of await received(victim.key)) expect(c.at).toBeLessThan(answered);
    // No call of the invocation ever waited in the platform's queue: the budget kept it under six.
    expect(platform.stats.queued).toBe(0);
    expect(platform.stats.peak).toBeLessThanOrEqual(6);
    expect(platform.stats.peak).toBeGreaterThan(HOOK_CONCURRENCY - 1);
  });
});
