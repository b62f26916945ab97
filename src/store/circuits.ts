import type { DB } from '.';
import { jsonRows, selectAs } from './json-rows';
import { circuitChanges, circuits } from './schema';
import { DUE_COLUMNS, KEYS, type Due, type TaskKey } from './tasks';

export type CircuitRow = Omit<typeof circuits.$inferSelect, 'held'>;
/** What one flush learnt of a destination: a success (the circuit closes), then failures since. */
export type CircuitNews = { appId: string; destination: string; closed: boolean; failures: number };
export type CircuitKey = { appId: string; destination: string };

const ROW = selectAs(circuits, { omit: ['held'] });
/** Circuits by key, many in one parameter. */
const PAIRS = jsonRows({ appId: 'text', destination: 'text' });
// A circuit remembers at most this many held task ids; any beyond come back at their next look.
const HELD_CAP = 1000;

/** The circuits of these destinations (most have none): what a consumer invocation reads, by primary key. */
export async function readCircuits(db: DB, keys: CircuitKey[]): Promise<CircuitRow[]> {
  if (keys.length === 0) return [];
  return (await db.$client.prepare(`SELECT ${ROW} FROM circuits WHERE (app_id, destination) IN ${PAIRS.tuples('?1')}`).bind(PAIRS.encode(keys)).all<CircuitRow>()).results;
}

// ?1 app ids, ?2 how many rows at most. In primary-key order, so a read that stops at the limit
// has read every circuit of each app before the last one it returned.
const APPS_CIRCUITS_SQL = `SELECT ${ROW} FROM circuits WHERE app_id IN (SELECT value FROM json_each(?1)) ORDER BY app_id, destination LIMIT ?2`;

/**
 * Up to `limit` circuits of these apps (most apps have none), and the apps whose circuits that is
 * all of: what a consumer reads before its claim tells it the destinations. Apps not complete
 * (one with more circuits than the limit, and those after it) are read by destination instead.
 */
export async function readAppsCircuits(db: DB, apps: string[], limit: number): Promise<{ rows: CircuitRow[]; complete: string[] }> {
  if (apps.length === 0) return { rows: [], complete: [] };
  const rows = (await db.$client.prepare(APPS_CIRCUITS_SQL).bind(JSON.stringify(apps), limit).all<CircuitRow>()).results;
  const last = rows.length < limit ? null : rows[rows.length - 1].appId;
  return { rows, complete: apps.filter((a) => last === null || before(a, last)) };
}

// SQLite's order for text (BINARY: the bytes of its UTF-8), which JavaScript's `<` (UTF-16 code
// units) does not always share.
const utf8 = new TextEncoder();
function before(a: string, b: string): boolean {
  const [x, y] = [utf8.encode(a), utf8.encode(b)];
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] < y[i];
  return x.length < y.length;
}

/** An app's circuits by destination, `limit` at most, after `after`. */
export async function appCircuits(db: DB, appId: string, limit: number, after = ''): Promise<CircuitRow[]> {
  return (await db.$client.prepare(`SELECT ${ROW} FROM circuits WHERE app_id = ?1 AND destination > ?2 ORDER BY destination LIMIT ?3`)
    .bind(appId, after, limit).all<CircuitRow>()).results;
}

/** How many of an app's circuits are in each state. */
export async function circuitCounts(db: DB, appId: string): Promise<Record<CircuitRow['state'], number>> {
  const { results } = await db.$client.prepare('SELECT state, count(*) AS n FROM circuits WHERE app_id = ?1 GROUP BY state').bind(appId).all<{ state: CircuitRow['state']; n: number }>();
  const counts = { closed: 0, open: 0, half_open: 0 };
  for (const r of results) counts[r.state] = r.n;
  return counts;
}

const RANGES = jsonRows({ lo: 'text', hi: 'text' });
const heldIds = (rows: { held: string | null }[]) => rows.flatMap((r) => (r.held ? (JSON.parse(r.held) as string[]) : []));

/**
 * Deletes an app's circuits: those named exactly, and those whose destination starts with one of
 * `prefixes`. Returns the destinations closed and the ids of the tasks they held.
 */
export async function resetCircuits(db: DB, appId: string, names: string[], prefixes: string[] = []) {
  // A prefix is a key range (prefix up to prefix + U+FFFF), so the primary key finds it.
  const ranges = RANGES.encode(prefixes.map((p) => ({ lo: p, hi: `${p}\uffff` })));
  const { results } = await db.$client.prepare(`DELETE FROM circuits WHERE app_id = ?1 AND (destination IN (SELECT value FROM json_each(?2))
      OR EXISTS (SELECT 1 FROM json_each(?3) AS r WHERE circuits.destination >= ${RANGES.get('lo', 'r.value')} AND circuits.destination < ${RANGES.get('hi', 'r.value')}))
    RETURNING destination, held`).bind(appId, JSON.stringify(names), ranges).all<{ destination: string; held: string | null }>();
  return { destinations: results.map((r) => r.destination), held: heldIds(results) };
}

/**
 * Notes that an open circuit holds these tasks back (ids merged, at most HELD_CAP kept). False if
 * the circuit is closed or gone by now (another invocation saw it recover): then nothing holds them.
 */
export async function holdAt(db: DB, key: CircuitKey, ids: string[]): Promise<boolean> {
  const row = await db.$client.prepare(`UPDATE circuits SET held = (SELECT json_group_array(value) FROM
      (SELECT value FROM json_each(coalesce(circuits.held, '[]')) UNION SELECT value FROM json_each(?3) LIMIT ${HELD_CAP}))
    WHERE app_id = ?1 AND destination = ?2 AND state <> 'closed' RETURNING state`).bind(key.appId, key.destination, JSON.stringify(ids)).first();
  return row != null;
}

// ?1 news (failures since the last success), ?2 now, ?3 threshold, ?4 interval, ?5 longest interval.
// Failures add up; enough of them open a closed circuit; a failed probe (half-open) opens it again
// for twice as long (up to the longest interval). A closed circuit's probe_at is its last failure
// plus the interval (see pruneCircuits).
const NEWS = jsonRows({ appId: 'text', destination: 'text', failures: 'integer' });
const FAILED = `
  INSERT INTO circuits (app_id, destination, state, failures, since, probe_at, interval_ms)
  SELECT n.appId, n.destination, CASE WHEN n.failures >= ?3 THEN 'open' ELSE 'closed' END, n.failures, ?2, ?2 + ?4, ?4
  FROM ${NEWS.from('?1')} AS n WHERE true
  ON CONFLICT (app_id, destination) DO UPDATE SET
    failures = circuits.failures + excluded.failures,
    state = CASE WHEN circuits.state = 'closed' AND circuits.failures + excluded.failures < ?3 THEN 'closed' ELSE 'open' END,
    since = CASE WHEN circuits.state = 'open' OR (circuits.state = 'closed' AND circuits.failures + excluded.failures < ?3) THEN circuits.since ELSE ?2 END,
    interval_ms = CASE WHEN circuits.state = 'half_open' THEN min(circuits.interval_ms * 2, ?5) ELSE circuits.interval_ms END,
    probe_at = CASE WHEN circuits.state = 'half_open' THEN ?2 + min(circuits.interval_ms * 2, ?5)
                    WHEN circuits.state = 'closed' THEN ?2 + circuits.interval_ms ELSE circuits.probe_at END
  RETURNING ${ROW}`;

const CHANGES = jsonRows({ appId: 'text', destination: 'text', change: 'text', failures: 'integer', next: 'integer?' });

/**
 * Records a flush's news in one transaction; returns the circuits it left (for the caller's view),
 * those it opened and closed (noted for the tick's alerts if `noteChanges`), and the tasks the closed ones held.
 */
export async function recordCircuits(db: DB, news: CircuitNews[], now: number, threshold: number, intervalMs: number, maxIntervalMs: number, noteChanges: boolean) {
  const d1 = db.$client;
  const closing = news.filter((n) => n.closed);
  const failed = news.filter((n) => n.failures > 0);
  const statements = [
    ...(closing.length ? [d1.prepare(`DELETE FROM circuits WHERE (app_id, destination) IN ${PAIRS.tuples('?1')} RETURNING ${ROW}, held`).bind(PAIRS.encode(closing))] : []),
    ...(failed.length ? [d1.prepare(FAILED).bind(NEWS.encode(failed), now, threshold, intervalMs, maxIntervalMs)] : []),
  ];
  if (statements.length === 0) return { left: [], opened: [], closed: [], held: [] };
  const results = await d1.batch<CircuitRow & { held: string | null }>(statements);
  const left = failed.length ? results.at(-1)!.results : [];
  // Circuits this flush opened (from closed: a half-open one failing its probe stays open).
  const opened = left.filter((c) => c.state === 'open' && c.since === now && c.failures >= threshold && c.intervalMs === intervalMs);
  // Circuits a success closed (deleting a closed one that merely counted failures is no news).
  const closed = closing.length ? results[0].results.filter((c) => c.state !== 'closed') : [];
  const changes = [...opened.map((c) => ({ c, change: 'opened', next: c.probeAt })), ...closed.map((c) => ({ c, change: 'closed', next: null }))];
  if (noteChanges && changes.length) {
    await d1.prepare(`INSERT INTO circuit_changes (app_id, destination, change, failures, at, next_probe_at)
        SELECT c.appId, c.destination, c.change, c.failures, ?2, c.next FROM ${CHANGES.from('?1')} AS c`)
      .bind(CHANGES.encode(changes.map(({ c, change, next }) => ({ ...c, change, next }))), now).run();
  }
  const held = closing.length ? results[0].results.filter((c) => c.held).map((c) => ({ appId: c.appId, ids: heldIds([c]) })) : [];
  return { left, opened, closed, held };
}

/** Takes the one probe an open circuit allows per interval; undefined if another took it. */
export async function takeProbe(db: DB, appId: string, destination: string, now: number): Promise<CircuitRow | undefined> {
  const { results } = await db.$client
    .prepare(`UPDATE circuits SET state = 'half_open', probe_at = ?3 + interval_ms
      WHERE app_id = ?1 AND destination = ?2 AND state IN ('open', 'half_open') AND probe_at <= ?3 RETURNING ${ROW}`)
    .bind(appId, destination, now)
    .all<CircuitRow>();
  return results[0];
}

/**
 * Drops circuits that no longer mean anything: closed ones whose last failure is `closedAfterMs`
 * old (failures that far apart are not a run), and open ones no task came to probe for
 * `idleAfterMs` (nothing waits for them). The table stays the size of what is failing now.
 */
export async function pruneCircuits(db: DB, now: number, closedAfterMs: number, idleAfterMs: number): Promise<number> {
  const { meta } = await db.$client.prepare(`DELETE FROM circuits WHERE (state = 'closed' AND probe_at < ?1) OR (state <> 'closed' AND probe_at < ?2)`)
    .bind(now - closedAfterMs, now - idleAfterMs).run();
  return meta.changes ?? 0;
}

export type CircuitChange = { id: number; appId: string; destination: string; change: 'opened' | 'closed'; failures: number; at: number; nextProbeAt: number | null };

/** Takes (deletes and returns) up to `limit` circuit changes, oldest first. */
export async function takeCircuitChanges(db: DB, limit: number): Promise<CircuitChange[]> {
  const { results } = await db.$client.prepare(`DELETE FROM circuit_changes WHERE id IN (SELECT id FROM circuit_changes ORDER BY id LIMIT ?1)
    RETURNING ${selectAs(circuitChanges)}`).bind(limit).all<CircuitChange>();
  return results.sort((a, b) => a.id - b.id);
}

// ?1 keys, ?2 now, ?3 grace. Tasks a circuit held that still wait become due now (the
// sweeper's watch moves with them, as for a hold); running, finished or deleted ones are left alone.
const RELEASE_SQL = `UPDATE tasks SET due_at = ?2, updated_at = ?2, wake_at = CASE WHEN wake_at IS NULL THEN NULL ELSE ?2 + ?3 END
  FROM ${KEYS.from('?1')} AS k
  WHERE tasks.app_id = k.appId AND tasks.id = k.id AND tasks.status IN ('pending', 'retry') AND tasks.due_at > ?2
  RETURNING ${DUE_COLUMNS('tasks')}`;

/** Makes held tasks due now; returns those it moved (to be sent to the queue). */
export async function releaseTasks(db: DB, keys: TaskKey[], now: number, graceMs: number) {
  if (keys.length === 0) return [];
  return (await db.$client.prepare(RELEASE_SQL).bind(KEYS.encode(keys), now, graceMs).all<Due>()).results;
}
