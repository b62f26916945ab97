import { D1_MAX_PARAMS } from '../platform';
import type { DB } from '.';
import type { Shard } from './shards';
import type { NewTaskRow, TaskRow } from './schema';
import { claimKeys, findKeys, keyOwned, type KeyClaim, type KeyHit } from './idempotency';
import { joinRows, jsonRows } from './json-rows';

// D1's real limits per statement (local D1 enforces none of them, so tests wrap it with a D1 that
// does: test/d1-limits.ts): 100 bound parameters, 100 KB of SQL text, 2,000,000 bytes per value.
// The metadata of one statement's rows travels as one JSON value: kept well inside 2,000,000 bytes.
const MAX_META_JSON = 1_800_000;

// Many tasks go in with ONE statement: their metadata travels as a single JSON parameter expanded
// by json_each (binding each column of 100 rows would take 2,000 parameters), and each body is a
// bound BLOB parameter of its own, picked by position: no hex or base64 in SQL, so a body may use
// its value's whole 2,000,000 bytes.
// What travels per row: the columns an insert takes from it, the position of its body among the
// bound bodies (null: none), and what a guard checks (a report's attempt, a keyed row's key owner).
const NEW_TASK = jsonRows({
  appId: 'text', id: 'text', url: 'text', method: 'text', headers: 'text?', bodyAt: 'integer?', contentType: 'text?',
  maxRetries: 'integer', timeout: 'integer', createdAt: 'integer', dueAt: 'integer', wakeAt: 'integer?',
  idempotencyKey: 'text?', flowKey: 'text?', callbackUrl: 'text?', failureCallbackUrl: 'text?', callbackOf: 'text?',
  retryPolicy: 'text?', ofAttempts: 'integer?', keyOwner: 'text?',
});
const col = NEW_TASK.get;
const insertSqls = new Map<string, string>();
// A report of an outcome (tasks/callbacks.ts) is inserted only if that outcome is recorded: its
// task is still the claimed attempt, as the record statement checks (same batch, same transaction).
const IF_REPORTED = `EXISTS (SELECT 1 FROM tasks AS o WHERE o.app_id = ${col('appId')}
    AND o.id = ${col('callbackOf')} AND +o.status = 'in_progress' AND o.attempts = ${col('ofAttempts')})`;
// Which rows go in: all; reports only if their outcome is recorded; keyed rows only if their key names them.
export type Guard = 'none' | 'reported' | 'keyed';
const GUARDS: Record<Guard, string> = { none: 'true', reported: IF_REPORTED, keyed: keyOwned(col('appId'), col('idempotencyKey'), col('keyOwner')) };
function insertSql(bodies: number, guard: Guard): string {
  const key = `${guard} ${bodies}`;
  return insertSqls.get(key) ?? insertSqls.set(key, buildInsertSql(bodies, GUARDS[guard])).get(key)!;
}
function buildInsertSql(bodies: number, where = 'true'): string {
  const body = bodies ? `CASE ${col('bodyAt')} ${Array.from({ length: bodies }, (_, k) => `WHEN ${k} THEN ?${k + 2}`).join(' ')} END` : 'NULL';
  return `
  INSERT INTO tasks (app_id, id, url, method, headers, body, content_type, status, attempts, max_retries,
                     retry_base, timeout, created_at, updated_at, due_at, wake_at, idempotency_key, flow_key,
                     callback_url, failure_callback_url, callback_of, retry_policy)
  SELECT ${col('appId')}, ${col('id')}, ${col('url')}, ${col('method')}, ${col('headers')}, ${body},
         ${col('contentType')}, 'pending', 0, ${col('maxRetries')}, 0, ${col('timeout')}, ${col('createdAt')}, ${col('createdAt')},
         ${col('dueAt')}, ${col('wakeAt')}, ${col('idempotencyKey')}, ${col('flowKey')}, ${col('callbackUrl')},
         ${col('failureCallbackUrl')}, ${col('callbackOf')}, ${col('retryPolicy')}
  FROM json_each(?1) WHERE ${where}
  ON CONFLICT DO NOTHING
  RETURNING id`;
}

/** Rows as a task would read back right after insert (what the client is shown). */
export function asStored(row: NewTaskRow): TaskRow {
  return {
    headers: null, body: null, contentType: null, completedAt: null, lastStartedAt: null, lastDurationMs: null,
    lastStatusCode: null, lastError: null, lastResponse: null, idempotencyKey: null, flowKey: null, callbackUrl: null, failureCallbackUrl: null, callbackOf: null, scheduleId: null, retryPolicy: null, attempts: 0, retryBase: 0, wakeAt: null,
    ...row,
  } as TaskRow;
}

/** Splits rows into statements that each stay inside D1's limits on parameters and value size. */
export function statements(db: DB, rows: (NewTaskRow & { ofAttempts?: number; keyOwner?: string })[], guard: Guard = 'none'): D1PreparedStatement[] {
  const out: D1PreparedStatement[] = [];
  let meta: string[] = [];
  let bodies: Uint8Array[] = [];
  let size = 0;
  const flush = () => {
    if (meta.length) out.push(db.$client.prepare(insertSql(bodies.length, guard)).bind(joinRows(meta), ...bodies));
    meta = [];
    bodies = [];
    size = 0;
  };
  for (const r of rows) {
    const { body, ...rest } = r;
    let json = NEW_TASK.row({ ...rest, bodyAt: body ? bodies.length : null });
    if (size + json.length + 4 > MAX_META_JSON || (body && bodies.length + 2 > D1_MAX_PARAMS)) {
      flush();
      if (body) json = NEW_TASK.row({ ...rest, bodyAt: 0 }); // its body is the next statement's first
    }
    meta.push(json);
    if (body) bodies.push(body);
    size += json.length + 4;
  }
  flush();
  return out;
}

// Apps whose counter row each database is known to hold, in this isolate (see insertTasks).
const known = new Set<string>();

/** A row to insert; a keyed row goes in only if its key (claimed in the same transaction) names keyOwner. */
export type InsertRow = NewTaskRow & { keyOwner?: string };
/** Each row: inserted, or not (its key was taken) with what the key made. */
export type Inserted = { created: true; task: TaskRow } | { created: false; hit: KeyHit };

/**
 * Inserts tasks in as few statements as their size allows (one for a typical batch), all in one
 * transaction, after claiming their idempotency keys (`keys`) in it. Rows whose key was taken are
 * not inserted; what the key made stands in. The first insert of an app into a database in an
 * isolate also makes sure the app has its counter row there (the sweeper's walks go through it):
 * a database added later gets it on first use.
 */
export async function insertTasks(shard: Shard, rows: InsertRow[], keys: KeyClaim[] = [], now = Date.now()): Promise<Inserted[]> {
  const { db } = shard;
  const appId = rows[0].appId; // every row of one call belongs to the caller's app
  const mark = `${shard.n}\n${appId}`;
  const ensure = known.has(mark) ? [] : [db.$client.prepare('INSERT OR IGNORE INTO app_stats (app_id) VALUES (?1)').bind(appId)];
  const first = [...ensure, ...(keys.length ? [claimKeys(db, keys, now)] : [])];
  const results = (await db.$client.batch<{ id: string }>([...first, ...statements(db, rows, keys.length ? 'keyed' : 'none')])).slice(first.length);
  known.add(mark);
  const created = new Set(results.flatMap((r) => r.results.map((x) => x.id)));

  const taken = rows.filter((r) => !created.has(r.id!) && r.idempotencyKey).map((r) => r.idempotencyKey!);
  const hits = await findKeys(db, appId, taken, now);
  return rows.map((r) => {
    if (created.has(r.id!)) return { created: true, task: asStored(r) };
    const hit = hits.get(r.idempotencyKey ?? '');
    if (!hit) throw new Error(`task ${r.id} was neither inserted nor found by its idempotency key`);
    return { created: false, hit };
  });
}
