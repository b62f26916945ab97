import { and, asc, eq, gt } from 'drizzle-orm';
import type { DB } from '.';
import { jsonRows, selectAs } from './json-rows';
import { flows } from './schema';

export type FlowRow = typeof flows.$inferSelect;
export type FlowLimitsInput = { rate: number | null; period: number; parallelism: number | null; retryPolicy?: string | null };

/** Sets a key's limits (creating it), keeping whether it is paused. */
export async function putFlow(db: DB, appId: string, key: string, limits: FlowLimitsInput, now: number): Promise<FlowRow> {
  const [row] = await db
    .insert(flows)
    .values({ appId, key, ...limits, paused: false, updatedAt: now })
    .onConflictDoUpdate({ target: [flows.appId, flows.key], set: { ...limits, updatedAt: now } })
    .returning();
  return row;
}

/** Pauses or resumes a key (a key paused before any limits were set holds none but the pause). */
export async function setPaused(db: DB, appId: string, key: string, paused: boolean, now: number): Promise<FlowRow> {
  const [row] = await db
    .insert(flows)
    .values({ appId, key, rate: null, period: 1, parallelism: null, paused, updatedAt: now })
    .onConflictDoUpdate({ target: [flows.appId, flows.key], set: { paused, updatedAt: now } })
    .returning();
  return row;
}

export async function getFlow(db: DB, appId: string, key: string): Promise<FlowRow | undefined> {
  const [row] = await db.select().from(flows).where(and(eq(flows.appId, appId), eq(flows.key, key)));
  return row;
}

/** An app's flows in key order, `limit` at most, after `after`. */
export async function listFlows(db: DB, appId: string, limit: number, after?: string): Promise<FlowRow[]> {
  return db.select().from(flows)
    .where(after ? and(eq(flows.appId, appId), gt(flows.key, after)) : eq(flows.appId, appId))
    .orderBy(asc(flows.key)).limit(limit);
}

export async function deleteFlow(db: DB, appId: string, key: string): Promise<boolean> {
  return (await db.delete(flows).where(and(eq(flows.appId, appId), eq(flows.key, key))).returning({ key: flows.key })).length > 0;
}

const PAIRS = jsonRows({ appId: 'text', key: 'text' });

/** The flows of these (app, key) pairs that exist, in one statement (the consumer's lookup). */
export async function flowsOf(db: DB, pairs: { appId: string; key: string }[]): Promise<FlowRow[]> {
  if (pairs.length === 0) return [];
  const { results } = await db.$client
    .prepare(`SELECT ${selectAs(flows, { qualify: 'f' })} FROM ${PAIRS.from('?1')} AS p JOIN flows AS f ON f.app_id = p.appId AND f.key = p.key`)
    .bind(PAIRS.encode(pairs))
    .all<FlowRow>();
  return results.map((r) => ({ ...r, paused: Boolean(r.paused) }));
}
