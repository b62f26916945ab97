import type { DB } from '.';
import type { circuits } from './schema';

export type CircuitRow = typeof circuits.$inferSelect;
/** What one flush learnt of a destination: a success (the circuit closes), then failures since. */
export type CircuitNews = { app: string; destination: string; closed: boolean; failures: number };

const ROW = `app_id AS appId, destination, state, failures, since, probe_at AS probeAt, interval_ms AS intervalMs`;

/** Every circuit (only destinations that failed lately have one): read once per consumer invocation. */
export async function readCircuits(db: DB): Promise<CircuitRow[]> {
  return (await db.$client.prepare(`SELECT ${ROW} FROM circuits`).all<CircuitRow>()).results;
}

export async function appCircuits(db: DB, appId: string): Promise<CircuitRow[]> {
  return (await db.$client.prepare(`SELECT ${ROW} FROM circuits WHERE app_id = ?1 ORDER BY destination`).bind(appId).all<CircuitRow>()).results;
}

export async function resetCircuit(db: DB, appId: string, destination: string): Promise<boolean> {
  const { results } = await db.$client.prepare('DELETE FROM circuits WHERE app_id = ?1 AND destination = ?2 RETURNING destination').bind(appId, destination).all();
  return results.length > 0;
}

// ?1 [{a, d, f: failures}], ?2 now, ?3 threshold, ?4 interval, ?5 longest interval.
// Failures add up; enough of them open a closed circuit; a failed probe (half-open) opens it again
// for twice as long (up to the longest interval).
const FAILED = `
  INSERT INTO circuits (app_id, destination, state, failures, since, probe_at, interval_ms)
  SELECT json_extract(value, '$.a'), json_extract(value, '$.d'),
    CASE WHEN json_extract(value, '$.f') >= ?3 THEN 'open' ELSE 'closed' END, json_extract(value, '$.f'), ?2, ?2 + ?4, ?4
  FROM json_each(?1) WHERE true
  ON CONFLICT (app_id, destination) DO UPDATE SET
    failures = circuits.failures + excluded.failures,
    state = CASE WHEN circuits.state = 'closed' AND circuits.failures + excluded.failures < ?3 THEN 'closed' ELSE 'open' END,
    since = CASE WHEN circuits.state = 'open' OR (circuits.state = 'closed' AND circuits.failures + excluded.failures < ?3) THEN circuits.since ELSE ?2 END,
    interval_ms = CASE WHEN circuits.state = 'half_open' THEN min(circuits.interval_ms * 2, ?5) ELSE circuits.interval_ms END,
    probe_at = CASE WHEN circuits.state = 'half_open' THEN ?2 + min(circuits.interval_ms * 2, ?5)
                    WHEN circuits.state = 'closed' THEN ?2 + circuits.interval_ms ELSE circuits.probe_at END
  RETURNING ${ROW}`;

/** Records a flush's news in one transaction; returns the circuits it left (for the caller's view). */
export async function recordCircuits(db: DB, news: CircuitNews[], now: number, threshold: number, intervalMs: number, maxIntervalMs: number) {
  const d1 = db.$client;
  const closed = news.filter((n) => n.closed).map((n) => ({ a: n.app, d: n.destination }));
  const failed = news.filter((n) => n.failures > 0).map((n) => ({ a: n.app, d: n.destination, f: n.failures }));
  const statements = [
    ...(closed.length ? [d1.prepare(`DELETE FROM circuits WHERE (app_id, destination) IN (SELECT json_extract(value, '$.a'), json_extract(value, '$.d') FROM json_each(?1))
      RETURNING ${ROW}`).bind(JSON.stringify(closed))] : []),
    ...(failed.length ? [d1.prepare(FAILED).bind(JSON.stringify(failed), now, threshold, intervalMs, maxIntervalMs)] : []),
  ];
  if (statements.length === 0) return { left: [], opened: [], closed: [] };
  const results = await d1.batch<CircuitRow>(statements);
  const left = failed.length ? results.at(-1)!.results : [];
  return {
    left,
    // Circuits this flush opened (from closed: a half-open one failing its probe stays open).
    opened: left.filter((c) => c.state === 'open' && c.since === now && c.failures >= threshold && c.intervalMs === intervalMs),
    // Circuits a success closed (deleting a closed one that merely counted failures is no news).
    closed: closed.length ? results[0].results.filter((c) => c.state !== 'closed') : [],
  };
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
