import { and, desc, eq, inArray, lt, lte, sql } from 'drizzle-orm';
import type { DB } from './index';
import { attempts, tasks, type NewTaskRow, type TaskRow, type TaskStatus } from './schema';

/** Inserts a task. With an idempotency key already in use, returns the existing task instead. */
export async function insertTask(db: DB, row: NewTaskRow): Promise<{ task: TaskRow; created: boolean }> {
  // ON CONFLICT DO NOTHING + the partial unique index make concurrent duplicates safe.
  const [inserted] = await db.insert(tasks).values(row).onConflictDoNothing().returning();
  if (inserted) return { task: inserted, created: true };
  const existing = await db.query.tasks.findFirst({
    where: and(eq(tasks.appId, row.appId), eq(tasks.idempotencyKey, row.idempotencyKey ?? '')),
  });
  if (!existing) throw new Error('insert ignored but no conflicting task found');
  return { task: existing, created: false };
}

export async function getTask(db: DB, appId: string, id: string): Promise<TaskRow | undefined> {
  return db.query.tasks.findFirst({ where: and(eq(tasks.id, id), eq(tasks.appId, appId)) });
}

export async function deleteTask(db: DB, appId: string, id: string): Promise<boolean> {
  const gone = await db
    .delete(tasks)
    .where(and(eq(tasks.id, id), eq(tasks.appId, appId)))
    .returning({ id: tasks.id });
  return gone.length > 0;
}

const DELETE_CHUNK = 500;

/** Deletes an app's tasks (optionally one status) in index-ordered chunks; returns how many. */
export async function deleteTasks(db: DB, appId: string, status?: TaskStatus): Promise<number> {
  let total = 0;
  for (;;) {
    const where = status ? and(eq(tasks.appId, appId), eq(tasks.status, status)) : eq(tasks.appId, appId);
    const chunk = db.select({ id: tasks.id }).from(tasks).where(where).limit(DELETE_CHUNK);
    const gone = await db.delete(tasks).where(inArray(tasks.id, chunk)).returning({ id: tasks.id });
    total += gone.length;
    if (gone.length < DELETE_CHUNK) return total;
  }
}

/**
 * Claims due tasks among `ids` in one statement: only pending/retry tasks that are due move to
 * in_progress, so duplicate, stale and early messages (and deleted tasks) claim nothing.
 * The lease (due_at) is the task's timeout plus `graceMs`.
 */
export async function claimTasks(db: DB, ids: string[], now: number, graceMs: number): Promise<TaskRow[]> {
  if (ids.length === 0) return [];
  return db
    .update(tasks)
    .set({
      status: 'in_progress',
      attempts: sql`${tasks.attempts} + 1`,
      dueAt: sql`${now} + ${tasks.timeout} * 1000 + ${graceMs}`,
      updatedAt: now,
    })
    .where(and(inArray(tasks.id, ids), inArray(tasks.status, ['pending', 'retry']), lte(tasks.dueAt, now)))
    .returning();
}

/** Status and due time of tasks, for deciding what to do with messages that claimed nothing. */
export async function peekTasks(db: DB, ids: string[]) {
  if (ids.length === 0) return [];
  return db
    .select({ id: tasks.id, status: tasks.status, dueAt: tasks.dueAt })
    .from(tasks)
    .where(inArray(tasks.id, ids));
}

export async function listAttempts(db: DB, taskId: string) {
  return db.select().from(attempts).where(eq(attempts.taskId, taskId)).orderBy(attempts.number);
}

export async function listTasks(db: DB, appId: string, opts: { status?: TaskStatus; before?: string; limit: number }) {
  const where = [eq(tasks.appId, appId)];
  if (opts.status) where.push(eq(tasks.status, opts.status));
  if (opts.before) where.push(lt(tasks.id, opts.before));
  return db
    .select()
    .from(tasks)
    .where(and(...where))
    .orderBy(desc(tasks.id))
    .limit(opts.limit);
}
