// The consumer's named parts on their own: the slot pool, the statement budget, the connection
// budget, and claims over two real local D1 databases.
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { claims } from '../src/dispatch/claims';
import { connections, throughBudget } from '../src/dispatch/connections';
import { HAND_BACK_AFTER_MS, HOOK_CONCURRENCY, PLAN_MS, slotPool, type Claimed } from '../src/dispatch/slots';
import { statementBudget } from '../src/dispatch/statements';
import { shardOfId } from '../src/ids';
import { POOL_MS } from '../src/start-window';
import { openDb } from '../src/store';
import { OUTCOME_STATEMENTS } from '../src/store/outcomes';
import type { Shard } from '../src/store/shards';
import { guardedD1, is } from './faults';
import { callWith, hook } from './helpers';

const claimedAt = (at: number) => ({ task: { id: `t${at}` }, shard: {}, claimedAt: at }) as unknown as Claimed;

describe('slot pool', () => {
  it('claims for the free slots until it knows the pace, then for what they start within PLAN_MS; big bodies only for the free slots', async () => {
    let now = 1_000;
    const slots = slotPool(HOOK_CONCURRENCY, () => now);
    expect(slots.plan(3, false)).toBe(3);
    let end!: () => void;
    slots.occupy(() => new Promise<void>((r) => (end = r)));
    expect(slots.free()).toBe(HOOK_CONCURRENCY - 1);
    now += 50; // the attempt held its slot 50 ms
    end();
    await slots.drain();
    expect(slots.pace).toBe(50);
    expect(slots.plan(2, false)).toBe(2 + Math.floor((HOOK_CONCURRENCY * PLAN_MS) / 50));
    expect(slots.plan(2, true)).toBe(2);
  });

  it('takes out claimed tasks that found no slot within POOL_MS of their claim, and starts the oldest first', () => {
    const now = 10_000;
    const slots = slotPool(2, () => now);
    slots.add([claimedAt(now - POOL_MS - 1), claimedAt(now - 10), claimedAt(now - 5), claimedAt(now)]);
    expect(slots.stale().map((c) => c.claimedAt)).toEqual([now - POOL_MS - 1]);
    expect(slots.waiting).toBe(3);
    expect(slots.take().map((c) => c.claimedAt)).toEqual([now - 10, now - 5]);
  });

  it(`gives up when every slot has been held for HAND_BACK_AFTER_MS with nothing claimed`, async () => {
    let now = 0;
    const slots = slotPool(1, () => now);
    slots.occupy(() => new Promise<void>(() => {}));
    now = HAND_BACK_AFTER_MS + 1;
    expect(await slots.ready(3)).toBe('give up');
  });
});

describe('statement budget', () => {
  it('claims only while what is left records every slot and a last recording per database, and learns bigger recordings', () => {
    const b = statementBudget(100);
    // 3 for the claim, 10 bodies, (5 slots + 1 database) recordings of OUTCOME_STATEMENTS.
    const need = 3 + 10 + OUTCOME_STATEMENTS * 6;
    b.spend(100 - need);
    expect(b.mayClaim(3, 10, 5, 1)).toBe(true);
    b.spend(1);
    expect(b.mayClaim(3, 10, 5, 1)).toBe(false);
    const c = statementBudget(100);
    c.spend(100 - need);
    c.spendFlush(OUTCOME_STATEMENTS + 4); // a recording with callback inserts
    expect(c.used).toBe(100 - need + OUTCOME_STATEMENTS + 4);
    expect(c.mayClaim(0, 0, 1, 0)).toBe(true);
    expect(c.mayClaim(3, 10, 5, 1)).toBe(false);
  });
});

describe('connection budget', () => {
  it('lets six calls wait for their answer at once; the seventh goes when one of them got its answer, first come first served', async () => {
    const budget = connections(6);
    const answers: (() => void)[] = [];
    const order: number[] = [];
    const calls = Array.from({ length: 8 }, (_, i) => budget.use(() => (order.push(i), new Promise<void>((r) => answers.push(r)))));
    await new Promise((r) => setTimeout(r, 10));
    expect(order).toEqual([0, 1, 2, 3, 4, 5]);
    expect(budget.inUse).toBe(6);
    answers[3]();
    await new Promise((r) => setTimeout(r, 10));
    expect(order).toEqual([0, 1, 2, 3, 4, 5, 6]);
    for (const a of answers) a();
    await new Promise((r) => setTimeout(r, 10));
    for (const a of answers) a();
    await Promise.all(calls);
    expect(order).toHaveLength(8);
    expect(budget.inUse).toBe(0);
  });

  it('queue sends of the wrapped bindings take a connection from the budget (per-database queues too)', async () => {
    const budget = connections(1);
    let sent = 0;
    const queue = { send: async () => void sent++, sendBatch: async () => void sent++ } as unknown as Queue;
    const wrapped = throughBudget({ ...env, TASKS: queue, TASKS_BULK: queue, TASKS_1: queue } as Env, budget);
    for (const name of ['TASKS', 'TASKS_1']) {
      sent = 0;
      await budget.acquire(); // a hook holds the only connection
      const send = (wrapped as unknown as Record<string, Queue>)[name].send({ app: 'a', ids: ['x'] });
      await new Promise((r) => setTimeout(r, 10));
      expect(sent, name).toBe(0);
      budget.release();
      await send;
      expect(sent, name).toBe(1);
    }
  });
});

describe('claims', () => {
  it('hands each database\'s answer over as it comes, with whether it brought a big body', async () => {
    const vars = { DATABASES: 'DB,DB_1' };
    const h = hook('ok');
    const ids: Record<number, string> = {};
    // One task in each database: a big body (not inlined in the claim) in DB, a small one in DB_1.
    while (ids[0] === undefined || ids[1] === undefined) {
      for (const body of ['x'.repeat(16 * 1024), 'x']) {
        const { id } = (await (await callWith(vars, `/?url=${encodeURIComponent(h.url)}`, { method: 'POST', body })).json()) as { id: string };
        const n = shardOfId(id)!;
        if ((n === 0) === (body.length > 1) && ids[n] === undefined) ids[n] = id;
        else await callWith(vars, `/tasks/${id}`, { method: 'DELETE' });
      }
    }
    // DB_1 answers its claim after DB does.
    const DB_1 = (env as unknown as { DB_1: D1Database }).DB_1;
    let answer!: () => void;
    const held = new Promise<void>((r) => (answer = r));
    const late = guardedD1(DB_1, is.claim, async (run) => (await held, run()));
    const shards: Shard[] = [{ n: 0, binding: 'DB', db: openDb(env.DB) }, { n: 1, binding: 'DB_1', db: openDb(late) }];
    const claiming = claims((k) => shards[shardOfId(k.id)!], { graceMs: 30_000, budgetEnd: Date.now() + 900_000, statements: statementBudget(), releasing: [] });
    claiming.send([ids[0], ids[1]].map((id) => ({ appId: 'default', id })));
    expect(claiming.pending).toBe(2);
    await claiming.next();
    const first = claiming.answered();
    expect(first.map((a) => [a.shard.binding, a.claimed.map((c) => c.task.id), a.bigBodies])).toEqual([['DB', [ids[0]], true]]);
    expect(claiming.pending).toBe(1);
    answer();
    await claiming.next();
    expect(claiming.answered().map((a) => [a.shard.binding, a.claimed.map((c) => c.task.id), a.bigBodies])).toEqual([['DB_1', [ids[1]], false]]);
    expect(claiming.pending).toBe(0);
  });
});
