import { and, eq, sql } from 'drizzle-orm';
import type { DB } from './index';
import { attempts, tasks, type TaskRow } from './schema';

export type Next =
  | { status: 'completed'; expiresAt: number }
  | { status: 'retry'; dueAt: number }
  | { status: 'failed'; expiresAt: number }
  // Never started (the invocation ran out of time budget): hand the claim back untouched.
  | { status: 'released'; dueAt: number };

export interface Outcome {
  task: TaskRow; // as returned by the claim
  startedAt: number;
  durationMs: number;
  statusCode: number | null;
  error: string | null;
  response: string | null;
  next: Next;
}

/**
 * Records a whole batch of attempt outcomes in one D1 batch (one transaction).
 * Each statement is guarded by `status = 'in_progress' AND attempts = <claimed>`, so an outcome
 * for a task that was deleted, or re-claimed after its lease expired, changes nothing.
 */
export async function recordOutcomes(db: DB, outcomes: Outcome[], now: number): Promise<void> {
  const statements = outcomes.flatMap((o) => {
    const claimed = and(eq(tasks.id, o.task.id), eq(tasks.status, 'in_progress'), eq(tasks.attempts, o.task.attempts));
    if (o.next.status === 'released') {
      return [
        db
          .update(tasks)
          .set({
            status: o.task.attempts === 1 ? 'pending' : 'retry',
            attempts: o.task.attempts - 1,
            dueAt: o.next.dueAt,
            updatedAt: now,
          })
          .where(claimed),
      ];
    }
    const update = db
      .update(tasks)
      .set({
        status: o.next.status,
        dueAt: o.next.status === 'retry' ? o.next.dueAt : o.next.expiresAt,
        updatedAt: now,
        completedAt: o.next.status === 'completed' ? now : null,
        lastStartedAt: o.startedAt,
        lastDurationMs: o.durationMs,
        lastStatusCode: o.statusCode,
        lastError: o.error,
        lastResponse: o.response,
      })
      .where(claimed);
    if (o.task.attempts <= 1) return [update];
    // Move the previous attempt off the task row into the log before overwriting it.
    const archive = db
      .insert(attempts)
      .select(
        sql`SELECT id, attempts - 1, last_started_at, last_duration_ms, last_status_code, last_error, last_response
            FROM tasks WHERE id = ${o.task.id} AND status = 'in_progress' AND attempts = ${o.task.attempts}
              AND last_started_at IS NOT NULL`,
      )
      .onConflictDoNothing();
    return [archive, update];
  });
  if (statements.length === 0) return;
  await db.batch(statements as [(typeof statements)[number], ...(typeof statements)[number][]]);
}
