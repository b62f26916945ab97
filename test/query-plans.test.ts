// Every statement on a hot path or in the sweeper must reach tasks through an index: a plan
// line "SCAN tasks" (a full table walk) or a temp B-tree over tasks fails this test.
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { openDb } from '../src/db';
import { INSERT_FROM_JSON } from '../src/db/batch';
import { OUTCOME_SQL } from '../src/db/outcomes';
import { OLDEST_OVERDUE_SQL } from '../src/db/stats';
import { SWEEP_SQL } from '../src/db/sweep';
import { claimQuery, listSql, REPLAY_MANY_SQL } from '../src/db/tasks';

const db = openDb(env.DB);
const outcomes = JSON.stringify([{ id: 'x', attempts: 1, status: 'completed', dueAt: 1 }]);

const statements: Record<string, [string, unknown[]]> = {
  claim: (() => {
    const q = claimQuery(db, ['a', 'b'], 1, 1).toSQL();
    return [q.sql, q.params];
  })(),
  'get task': [`SELECT * FROM tasks WHERE id = ?1 AND app_id = ?2`, ['x', 'default']],
  'insert batch': [INSERT_FROM_JSON, ['[]']],
  'outcome archive': [OUTCOME_SQL.archive, [outcomes]],
  'outcome record': [OUTCOME_SQL.record, [outcomes]],
  'list, all statuses': [listSql(5), ['default', '~', 50, 'pending', 'in_progress', 'retry', 'completed', 'failed']],
  'list, one status': [listSql(1), ['default', '~', 50, 'failed']],
  'bulk replay': [REPLAY_MANY_SQL, [1, 'default', 'failed']],
  'stats oldest overdue': [OLDEST_OVERDUE_SQL, ['default', 1]],
  'delete by app chunk': [`DELETE FROM tasks WHERE id IN (SELECT id FROM tasks WHERE app_id = ?1 AND status = ?2 LIMIT 500)`, ['default', 'failed']],
  ...Object.fromEntries(
    Object.entries(SWEEP_SQL).map(([name, sql]) => [`sweep ${name}`, [sql, [1, 2, 3].slice(0, (sql.match(/\?\d/g) ?? []).reduce((m, p) => Math.max(m, Number(p[1])), 0))]]),
  ),
};

// Statements keyed by task ids must look each one up by primary key.
const byId = ['claim', 'get task', 'outcome archive', 'outcome record'];

describe('query plans', () => {
  for (const [name, [sql, params]] of Object.entries(statements)) {
    it(`${name} never scans tasks`, async () => {
      const { results } = await env.DB.prepare(`EXPLAIN QUERY PLAN ${sql}`).bind(...params).all<{ detail: string }>();
      const plan = results.map((r) => r.detail);
      expect(plan.length).toBeGreaterThan(0);
      const bad = plan.filter(
        (d) =>
          /^SCAN (tasks|t)\b/.test(d) || // a walk over the table or a whole index
          /INDEX tasks_status_due \(status=\?\)$/.test(d) || // every task of a status, unbounded
          /INDEX tasks_app_status_id \(app_id=\?\)$/.test(d), // every task of an app
      );
      expect(bad, plan.join('\n')).toEqual([]);
      if (byId.includes(name)) expect(plan.join('\n')).toMatch(/SEARCH (tasks|t) USING (COVERING )?INDEX sqlite_autoindex_tasks_1 \(id=\?\)/);
    });
  }
});
