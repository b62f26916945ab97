import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { getConfig } from '../src/config';
import { sweep } from '../src/sweep/sweep';
import { backlogStatements, type BacklogKind } from '../bench/backlog';
import { expectCountsExact, recordingQueue } from './helpers';

// The sweeper keeps up with what a database can take in: one tick handles a minute of a
// database's modelled capacity (~800 tasks/s via POST /, so 48,000) of each kind of work, sized
// by the work it finds rather than by a fixed number of rounds.

const seed = async (app: string, kind: BacklogKind, n: number, created: number) => {
  for (const { sql, values } of backlogStatements(app, kind, n, created)) await env.DB.prepare(sql).bind(...values).run();
};
const count = async (app: string) => (await env.DB.prepare('SELECT count(*) AS n FROM tasks WHERE app_id = ?').bind(app).first<number>('n'))!;

describe('sweeper capacity', () => {
  it('one tick deletes and re-sends backlogs beyond the old 10,000-a-tick cap, with the counters right', { timeout: 120_000 }, async () => {
    const cfg = getConfig(env);
    const now = Date.now();
    const long = now - (cfg.COMPLETED_TTL + cfg.SWEEP_WALK_LAG) * 1000 - 86_400_000;
    await seed('backlog', 'expired', 25_000, long);
    await seed('backlog', 'failed', 25_000, long);
    await seed('backlog', 'lost', 3_000, long);
    const q = recordingQueue();
    const report = await sweep({ ...env, ...q.vars } as Env, now);
    expect(report.failed).toEqual([]);
    expect(report.deleted).toBe(50_000);
    expect(report.resent).toBe(3_000);
    expect(report.behind).toEqual([]);
    expect(await count('backlog')).toBe(3_000);
    await expectCountsExact();
    // Caught up: the next tick finds nothing, and reads no row the last one handled.
    const again = await sweep({ ...env, ...q.vars } as Env, now + 1000);
    expect(again).toMatchObject({ deleted: 0, resent: 0, behind: [] });
  });
});
