import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { allCompleted, callWith, getTask, hook, playQueue, received } from './helpers';

// DEFAULT_HOST_RATE / DEFAULT_HOST_PARALLELISM are per app (one tenant's tasks never wait for
// another's slots), and a flow key does not escape them.

const ADMIN = { authorization: `Bearer ${env.ADMIN_TOKEN}` };

async function newAppKey(name: string): Promise<string> {
  const res = await callWith({}, '/admin/apps', { method: 'POST', headers: { ...ADMIN, 'content-type': 'application/json' }, body: JSON.stringify({ name }) });
  expect(res.status).toBe(201);
  return ((await res.json()) as { api_key: string }).api_key;
}

async function enqueueAs(key: string | null, url: string, params: Record<string, string> = {}): Promise<string> {
  const res = await callWith(key ? { AUTHENTICATE: 'true' } : {}, `/?${new URLSearchParams({ url, ...params })}`, { method: 'POST', body: 'x', headers: key ? { authorization: `Bearer ${key}` } : {} });
  expect(res.status).toBe(201);
  return ((await res.json()) as { id: string }).id;
}


describe('host defaults', () => {
  it("apply per app: another app's task is not held behind one app's", { timeout: 60_000 }, async () => {
    const other = await newAppKey('other-tenant');
    // One hook (one log) for both apps; each call says whose it is.
    const h = hook('sleep', 'ms=1500');
    const mine: string[] = [];
    const theirs: string[] = [];
    for (let i = 0; i < 3; i++) mine.push(await enqueueAs(null, `${h.url}&who=mine`));
    for (let i = 0; i < 3; i++) theirs.push(await enqueueAs(other, `${h.url}&who=theirs`));
    // (getTask reads as `default`: the other app's tasks are checked through the hook's log.)
    await playQueue([...mine, ...theirs], async () => (await allCompleted(mine)()) && (await received(h.key)).length >= 6, 45_000, { DEFAULT_HOST_PARALLELISM: '1' });
    const log = await received(h.key);
    expect(log).toHaveLength(6);
    // Each app one at a time, the two apps side by side: never more than one call per app (no
    // more than two at once), and the two apps' calls overlap (a shared gate would allow one).
    expect(Math.max(...log.map((r) => r.inflight))).toBe(2);
    for (const who of ['mine', 'theirs']) expect(log.filter((r) => r.path.includes(`who=${who}`))).toHaveLength(3);
  });

  it('hold for tasks that name a flow too (a flow key narrows the host default, never escapes it)', { timeout: 60_000 }, async () => {
    const h = hook('sleep', 'ms=500');
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push(await enqueueAs(null, h.url, { flow_key: `own-flow-${i}` }));
    await playQueue(ids, allCompleted(ids), 45_000, { DEFAULT_HOST_PARALLELISM: '1' });
    const log = await received(h.key);
    expect(log).toHaveLength(4);
    expect(Math.max(...log.map((r) => r.inflight))).toBe(1);
  });
});
