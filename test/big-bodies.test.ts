// Bodies up to 1 MiB under D1's real limits: stored as bound BLOBs, never loaded by a claim or a
// listing beyond the attempts that send them, and a consumer batch of 100 such tasks delivers them all.
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { check } from './d1-limits';
import { strictD1 } from './d1-limits';
import { allCompleted, callWith, hook, playQueue, received } from './helpers';

const MiB = 1024 * 1024;

describe('big bodies under D1 limits', () => {
  it('the strict D1 refuses what real D1 refuses', () => {
    expect(() => check('SELECT 1', ['x'.repeat(2 * MiB)])).toThrow(/too big/);
    expect(() => check('SELECT 1', Array(101).fill(1))).toThrow(/too many/);
    expect(() => check(`SELECT '${'x'.repeat(100_001)}'`, [])).toThrow(/too long/);
  });

  it('100 tasks of 1 MiB (100 POST / calls) go to one consumer batch and are all delivered once, whole', async () => {
    const DB = strictD1();
    const h = hook('ok', 'log=size');
    const ids: string[] = [];
    for (let i = 0; i < 100; i++) {
      const body = new Uint8Array(MiB).fill(i);
      const res = await callWith({ DB }, `/?url=${encodeURIComponent(h.url)}`, { method: 'POST', body, headers: { 'content-type': 'application/octet-stream' } });
      expect(res.status).toBe(201);
      ids.push(((await res.json()) as { id: string }).id);
    }
    const listed = await callWith({ DB }, '/tasks?limit=100');
    expect(listed.status).toBe(200);
    // One batch names all 100. On a busy machine the consumer may hand some back (a claimed task
    // that finds no slot in time goes back to the queue): those are played again until every task
    // is done, as the queue would, under a deadline rather than a count in a fixed time.
    await playQueue(ids, allCompleted(ids), 240_000, { DB });
    const got = await received(h.key);
    expect(new Set(got.map((r) => r.headers['torque-task-id'])).size).toBe(100);
    expect(got).toHaveLength(100);
    for (const r of got) expect(r.size).toBe(MiB);
    const done = await env.DB.prepare("SELECT count(*) AS n FROM tasks WHERE status = 'completed' AND id IN (SELECT value FROM json_each(?))").bind(JSON.stringify(ids)).first('n');
    expect(done).toBe(100);
  }, 300_000);

  it('a batch of 1 MiB bodies is stored in statements inside the limits', async () => {
    const DB = strictD1();
    const h = hook('ok', 'log=size');
    const b64 = Buffer.alloc(MiB, 7).toString('base64');
    const res = await callWith({ DB }, '/batch', { method: 'POST', body: JSON.stringify([{ url: h.url, body_base64: b64 }, { url: h.url, body_base64: b64 }]), headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(201);
    const { tasks } = (await res.json()) as { tasks: { id: string }[] };
    // A loaded machine may hand a claimed task back to the queue: play it until both are done.
    const ids = tasks.map((t) => t.id);
    await playQueue(ids, allCompleted(ids), 60_000, { DB });
    expect((await received(h.key)).map((r) => r.size)).toEqual([MiB, MiB]);
  });
});
