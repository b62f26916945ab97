import { and, asc, eq } from 'drizzle-orm';
import type { DB } from '.';
import { topics } from './schema';

export type Topic = { name: string; endpoints: string[]; updatedAt: number };
const toTopic = (r: typeof topics.$inferSelect): Topic => ({ name: r.name, endpoints: JSON.parse(r.endpoints) as string[], updatedAt: r.updatedAt });

export async function putTopic(db: DB, appId: string, name: string, endpoints: string[], now: number): Promise<Topic> {
  const [row] = await db.insert(topics).values({ appId, name, endpoints: JSON.stringify(endpoints), updatedAt: now })
    .onConflictDoUpdate({ target: [topics.appId, topics.name], set: { endpoints: JSON.stringify(endpoints), updatedAt: now } })
    .returning();
  return toTopic(row);
}

export async function getTopic(db: DB, appId: string, name: string): Promise<Topic | undefined> {
  const [row] = await db.select().from(topics).where(and(eq(topics.appId, appId), eq(topics.name, name)));
  return row && toTopic(row);
}

export async function listTopics(db: DB, appId: string, limit: number): Promise<Topic[]> {
  return (await db.select().from(topics).where(eq(topics.appId, appId)).orderBy(asc(topics.name)).limit(limit)).map(toTopic);
}

export async function deleteTopic(db: DB, appId: string, name: string): Promise<boolean> {
  return (await db.delete(topics).where(and(eq(topics.appId, appId), eq(topics.name, name))).returning({ name: topics.name })).length > 0;
}
