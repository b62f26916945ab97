import { abortAllDurableObjects, evictAllDurableObjects, evictDurableObject, runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import type { FlowGate, Limits } from '../src/flow/gate';
import { call, consume, enqueue, getTask, hook, received, recordingQueue } from './helpers';

// A flow gate's promises outlive the object's memory: Durable Objects are evicted after a short
// idleness (a long hook call leaves the gate idle) and reset by every deploy.

type Gate = DurableObjectStub<FlowGate>;
const gate = (name: string) => env.FLOW_GATES.get(env.FLOW_GATES.idFromName(`${name}-${Math.random()}`)) as Gate;
const ONE_AT_A_TIME: Limits = { rate: null, periodMs: 1000, parallelism: 1, paused: false };
const TWO_A_MINUTE: Limits = { rate: 2, periodMs: 60_000, parallelism: null, paused: false };
// The two ways an object loses its memory: eviction when idle, and a reset (a deploy, after
// which callers need a new stub). Each returns the stub to go on with.
const restarts: Record<string, (stub: Gate) => Promise<Gate>> = {
  evicted: async (stub) => {
    await evictDurableObject(stub);
    return stub;
  },
  'reset (deploy)': async (stub) => {
    await abortAllDurableObjects();
    return env.FLOW_GATES.get(stub.id) as Gate;
  },
};

describe.each(Object.entries(restarts))('a flow gate %s mid-attempt', (_, restart) => {
  it('keeps parallelism 1: no second start while the first attempt holds its lease', async () => {
    let stub = gate('p1');
    const first = await stub.admit(ONE_AT_A_TIME, ['a'], 60_000);
    expect(first.granted.map((g) => g.id)).toEqual(['a']);
    stub = await restart(stub);
    expect((await stub.admit(ONE_AT_A_TIME, ['b'], 60_000)).granted).toEqual([]);
    expect((await stub.state(ONE_AT_A_TIME)).running).toBe(1);
    // The attempt ends: its slot is free, after a restart too.
    await stub.release(first.granted.map((g) => g.lease));
    stub = await restart(stub);
    expect((await stub.admit(ONE_AT_A_TIME, ['b'], 60_000)).granted.map((g) => g.id)).toEqual(['b']);
  });

  it('keeps a rate: starts and promised slots are remembered', async () => {
    let stub = gate('rate');
    const first = await stub.admit(TWO_A_MINUTE, ['a', 'b', 'c'], 60_000);
    expect(first.granted.map((g) => g.id)).toEqual(['a', 'b']);
    const promise = first.later.find((l) => l.id === 'c')!;
    expect(promise.promised).toBe(true);
    stub = await restart(stub);
    // No third start within the minute; d's place is no earlier than c's (c keeps its promise).
    const next = await stub.admit(TWO_A_MINUTE, ['d'], 60_000);
    expect(next.granted).toEqual([]);
    expect(next.later[0].at).toBeGreaterThanOrEqual(promise.at);
    expect(await stub.state(TWO_A_MINUTE)).toMatchObject({ started_in_period: 2, waiting_for_a_slot: 2 });
  });
});

describe('a flow gate lease', () => {
  it('lapses by time when its release never comes (a dead invocation), also after a restart', async () => {
    const stub = gate('lapse');
    expect((await stub.admit(ONE_AT_A_TIME, ['a'], 200)).granted).toHaveLength(1);
    await evictDurableObject(stub);
    const deadline = Date.now() + 10_000;
    let granted = 0;
    while (!granted && Date.now() < deadline) {
      granted = (await stub.admit(ONE_AT_A_TIME, ['b'], 60_000)).granted.length;
      if (!granted) await new Promise((r) => setTimeout(r, 50));
    }
    expect(granted).toBe(1);
  });

  it('leaves nothing in storage once its starts and leases are over', async () => {
    const stub = gate('clean');
    const { granted } = await stub.admit({ ...ONE_AT_A_TIME, rate: 5, periodMs: 50 }, ['a'], 60_000);
    await stub.release(granted.map((g) => g.lease));
    await new Promise((r) => setTimeout(r, 60));
    await stub.state({ ...ONE_AT_A_TIME, rate: 5, periodMs: 50 });
    const rows = await runInDurableObject(stub, (_, state) =>
      ['slots', 'promised', 'leases'].map((t) => state.storage.sql.exec(`SELECT count(*) AS n FROM ${t}`).one().n));
    expect(rows).toEqual([0, 0, 0]);
  });
});

describe('flow control through the consumer', () => {
  it.each([['evicted', () => evictAllDurableObjects()], ['reset (deploy)', () => abortAllDurableObjects()]] as const)(
    'a flow with parallelism 1 whose gate is %s while its hook runs starts no second attempt', { timeout: 60_000 }, async (how, restart) => {
      await call(`/flows/gone-${how[0]}`, { method: 'PUT', body: JSON.stringify({ parallelism: 1 }), headers: { 'content-type': 'application/json' } });
      const h = hook('sleep', 'ms=3000');
      const [a, b] = [(await enqueue(h.url, 'x', { flow_key: `gone-${how[0]}` })).task.id, (await enqueue(h.url, 'x', { flow_key: `gone-${how[0]}` })).task.id];
      const q = recordingQueue();
      const first = consume([a], q.vars);
      const deadline = Date.now() + 10_000;
      while ((await received(h.key)).length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      await restart();
      await consume([b], q.vars);
      await first;
      const log = await received(h.key);
      expect(log.map((r) => r.headers['torque-task-id'])).toEqual([a]);
      expect(await getTask(b)).toMatchObject({ status: 'pending', attempts: 0 });
    });
});
