import { and, eq, getTableColumns } from 'drizzle-orm';
import type { DB } from '.';
import { tasks } from './schema';
import { jsonRows } from './json-rows';
import { inJson, type ListedTask } from './tasks';

// Idempotency keys (table idempotency_keys, see schema.ts): a key names the task(s) its first
// enqueue made, and is remembered until expires_at and while any of those tasks still exists.
// A keyed insert claims its key in the same transaction as its tasks, first: a task row goes in
// only if the key names it (see store/batch.ts), so concurrent requests with one key make one task.

/** SQL: some task of the key row `k` still exists. */
const alive = (k: string) => `EXISTS (SELECT 1 FROM tasks AS t WHERE t.app_id = ${k}.app_id
    AND t.id IN (SELECT value FROM json_each(coalesce(${k}.task_ids, json_array(${k}.task_id)))))`;

/** A key to claim: the task that owns it (a publish's first) and, for a publish, all of them. */
export type KeyClaim = { appId: string; key: string; owner: string; ids: string[] | null; expiresAt: number };

// ?1 claims, ?2 now. A key whose time is up and whose tasks are all gone is taken over.
const CLAIMS = jsonRows({ appId: 'text', key: 'text', owner: 'text', ids: 'json?', expiresAt: 'integer' });
const CLAIM_KEYS_SQL = `
  INSERT INTO idempotency_keys (app_id, key, task_id, task_ids, expires_at)
  SELECT ${CLAIMS.fields.map((f) => CLAIMS.get(f)).join(', ')} FROM json_each(?1) WHERE true
  ON CONFLICT (app_id, key) DO UPDATE SET task_id = excluded.task_id, task_ids = excluded.task_ids, expires_at = excluded.expires_at
    WHERE idempotency_keys.expires_at <= ?2 AND NOT ${alive('idempotency_keys')}`;

/** The statement claiming these keys (the first claim of a key in the list wins). */
export function claimKeys(db: DB, claims: KeyClaim[], now: number): D1PreparedStatement {
  return db.$client.prepare(CLAIM_KEYS_SQL).bind(CLAIMS.encode(claims), now);
}

/** SQL: the guard a keyed task row's insert carries: it has no key, or its key (claimed just before) names its owner. */
export const keyOwned = (app: string, key: string, owner: string) => `(${key} IS NULL OR EXISTS (SELECT 1 FROM idempotency_keys AS ik
    WHERE ik.app_id = ${app} AND ik.key = ${key} AND ik.task_id = ${owner}))`;

/** What a key made: its tasks in order (ids), those still there, and until when it is remembered. */
export type KeyHit = { key: string; ids: string[]; tasks: ListedTask[]; expiresAt: number };

const { body: _body, ...listed } = getTableColumns(tasks);

/**
 * An app's keys among `keys` that are still remembered (unexpired, or a task of theirs still
 * exists), each with the tasks it made that still exist, in the order they were made.
 */
export async function findKeys(db: DB, appId: string, keys: string[], now: number): Promise<Map<string, KeyHit>> {
  const out = new Map<string, KeyHit>();
  if (keys.length === 0) return out;
  const { results } = await db.$client
    .prepare('SELECT key, task_id, task_ids, expires_at FROM idempotency_keys WHERE app_id = ?1 AND key IN (SELECT value FROM json_each(?2))')
    .bind(appId, JSON.stringify([...new Set(keys)]))
    .all<{ key: string; task_id: string; task_ids: string | null; expires_at: number }>();
  if (results.length === 0) return out;
  const idsOf = new Map(results.map((r) => [r.key, r.task_ids ? (JSON.parse(r.task_ids) as string[]) : [r.task_id]]));
  const all = [...idsOf.values()].flat();
  const rows = await db.select(listed).from(tasks).where(and(eq(tasks.appId, appId), inJson(tasks.id, all)));
  const byId = new Map(rows.map((t) => [t.id, t]));
  for (const r of results) {
    const ids = idsOf.get(r.key)!;
    const found = ids.flatMap((id) => byId.get(id) ?? []);
    if (found.length || r.expires_at > now) out.set(r.key, { key: r.key, ids, tasks: found, expiresAt: r.expires_at });
  }
  return out;
}

// ?1 now, ?2 how long a key whose task still lives is kept on. Oldest first, a chunk at a time.
const EXPIRED = `(app_id, key) IN (SELECT app_id, key FROM idempotency_keys WHERE expires_at <= ?1 ORDER BY expires_at LIMIT 500)`;
const PRUNE_KEYS_SQL = {
  forget: `DELETE FROM idempotency_keys WHERE ${EXPIRED} AND NOT ${alive('idempotency_keys')} RETURNING 1`,
  // What is left of the chunk belongs to tasks still there (e.g. delayed beyond the TTL): looked at again later.
  keep: `UPDATE idempotency_keys SET expires_at = ?1 + ?2 WHERE ${EXPIRED} RETURNING 1`,
};

/** Forgets expired keys whose tasks are gone, up to `rounds` chunks; returns how many. */
export async function pruneKeys(db: DB, now: number, keepMs: number): Promise<number> {
  const d1 = db.$client;
  const [gone, kept] = await d1.batch([d1.prepare(PRUNE_KEYS_SQL.forget).bind(now), d1.prepare(PRUNE_KEYS_SQL.keep).bind(now, keepMs)]);
  return gone.results.length + kept.results.length;
}
/** Keys one pruneKeys round looks at, at most (each of its two statements takes up to this many). */
export const PRUNE_KEYS_CHUNK = 500;
