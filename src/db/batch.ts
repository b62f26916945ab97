import { and, eq } from 'drizzle-orm';
import type { DB } from './index';
import { tasks, type NewTaskRow, type TaskRow } from './schema';
import { inJson } from './tasks';

// Many tasks go in with ONE statement: the rows travel as a single JSON parameter and are
// expanded by json_each. D1 allows 100 bound parameters per statement, so binding each column
// of 100 rows (2,000 parameters) is impossible, and 100 single-row statements would cost 100
// queries. Bodies travel hex-encoded and are turned back into BLOBs by unhex().
export const INSERT_FROM_JSON = `
  INSERT INTO tasks (id, app_id, url, method, headers, body, content_type, status, attempts, max_retries,
                     retry_base, timeout, created_at, updated_at, due_at, idempotency_key)
  SELECT json_extract(value, '$.id'), json_extract(value, '$.appId'), json_extract(value, '$.url'),
         json_extract(value, '$.method'), json_extract(value, '$.headers'), unhex(json_extract(value, '$.body')),
         json_extract(value, '$.contentType'), 'pending', 0, json_extract(value, '$.maxRetries'), 0,
         json_extract(value, '$.timeout'), json_extract(value, '$.createdAt'), json_extract(value, '$.createdAt'),
         json_extract(value, '$.dueAt'), json_extract(value, '$.idempotencyKey')
  FROM json_each(?1) WHERE true
  ON CONFLICT DO NOTHING
  RETURNING id`;

// A D1 value (and so the JSON parameter) may be at most 2,000,000 bytes; stay well inside it.
const MAX_PARAM_CHARS = 1_800_000;

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

/** Rows as a task would read back right after insert (what the client is shown). */
function asStored(row: NewTaskRow): TaskRow {
  return {
    headers: null, body: null, contentType: null, completedAt: null, lastStartedAt: null, lastDurationMs: null,
    lastStatusCode: null, lastError: null, lastResponse: null, idempotencyKey: null, attempts: 0, retryBase: 0,
    ...row,
  } as TaskRow;
}

/**
 * Inserts tasks in as few statements as their size allows (one for a typical batch). Rows whose
 * idempotency key is taken are not inserted; the existing task stands in for them.
 */
export async function insertTasks(db: DB, rows: NewTaskRow[]): Promise<{ task: TaskRow; created: boolean }[]> {
  const encoded = rows.map((r) => JSON.stringify({ ...r, body: r.body ? hex(r.body) : null }));
  const chunks: string[][] = [[]];
  let size = 0;
  for (const e of encoded) {
    if (size + e.length > MAX_PARAM_CHARS && chunks[chunks.length - 1].length) (chunks.push([]), (size = 0));
    chunks[chunks.length - 1].push(e);
    size += e.length + 1;
  }
  const stmt = db.$client.prepare(INSERT_FROM_JSON);
  const results = await db.$client.batch<{ id: string }>(chunks.map((c) => stmt.bind(`[${c.join(',')}]`)));
  const created = new Set(results.flatMap((r) => r.results.map((x) => x.id)));

  const taken = rows.filter((r) => !created.has(r.id) && r.idempotencyKey).map((r) => r.idempotencyKey!);
  // Every row of one call belongs to the caller's app.
  const existing = taken.length
    ? await db.select().from(tasks).where(and(eq(tasks.appId, rows[0].appId), inJson(tasks.idempotencyKey, taken)))
    : [];
  const byKey = new Map(existing.map((t) => [t.idempotencyKey, t]));
  return rows.map((r) => {
    if (created.has(r.id)) return { task: asStored(r), created: true };
    const other = byKey.get(r.idempotencyKey ?? '');
    if (!other) throw new Error(`task ${r.id} was neither inserted nor found by its idempotency key`);
    return { task: other, created: false };
  });
}
