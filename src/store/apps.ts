import { and, eq, isNull } from 'drizzle-orm';
import type { DB } from '.';
import { apiKeys, appStats, apps } from './schema';

export const DEFAULT_APP = 'default';

/** An app and its counter row (every app has one: the sweeper's walks go through it). */
export async function createApp(db: DB, app: { id: string; name: string }, now: number) {
  await db.batch([db.insert(apps).values({ ...app, createdAt: now }), db.insert(appStats).values({ appId: app.id })]);
}

export async function listApps(db: DB) {
  return db.select().from(apps).orderBy(apps.createdAt);
}

export async function getApp(db: DB, id: string) {
  return db.query.apps.findFirst({ where: eq(apps.id, id) });
}

export async function addKey(db: DB, key: { id: string; appId: string; hash: string }, now: number) {
  await db.insert(apiKeys).values({ ...key, createdAt: now });
}

/** The live (unrevoked) key with this id, if any. */
export async function findLiveKey(db: DB, id: string) {
  return db.query.apiKeys.findFirst({ where: and(eq(apiKeys.id, id), isNull(apiKeys.revokedAt)) });
}

export async function revokeKey(db: DB, id: string, now: number): Promise<boolean> {
  const done = await db
    .update(apiKeys)
    .set({ revokedAt: now })
    .where(and(eq(apiKeys.id, id), isNull(apiKeys.revokedAt)))
    .returning({ id: apiKeys.id });
  return done.length > 0;
}
