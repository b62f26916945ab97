import { sql } from 'drizzle-orm';
import { blob, index, integer, primaryKey, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';

export const TASK_STATUSES = ['pending', 'in_progress', 'retry', 'completed', 'failed'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

// All times are unix milliseconds.
export const apps = sqliteTable('apps', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  createdAt: integer('created_at').notNull(),
});

export const apiKeys = sqliteTable('api_keys', {
  id: text('id').primaryKey(),
  appId: text('app_id')
    .notNull()
    .references(() => apps.id, { onDelete: 'cascade' }),
  hash: text('hash').notNull(),
  createdAt: integer('created_at').notNull(),
  revokedAt: integer('revoked_at'),
});

export const tasks = sqliteTable(
  'tasks',
  {
    id: text('id').primaryKey(),
    appId: text('app_id').notNull(),
    url: text('url').notNull(),
    method: text('method').notNull(),
    headers: text('headers'), // JSON object of passthrough headers, null when none
    body: blob('body', { mode: 'buffer' }),
    contentType: text('content_type'),
    status: text('status', { enum: TASK_STATUSES }).notNull(),
    attempts: integer('attempts').notNull().default(0),
    maxRetries: integer('max_retries').notNull(),
    // Attempts made before the last manual replay of a finished task: a replayed task gets its
    // full retry budget again, counted from here.
    retryBase: integer('retry_base').notNull().default(0),
    timeout: integer('timeout').notNull(),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
    // One column for "when does something next happen to this row", so one index serves the
    // whole sweeper: pending/retry = next attempt due; in_progress = lease expiry;
    // completed/failed = deletion time (TTL).
    dueAt: integer('due_at').notNull(),
    completedAt: integer('completed_at'),
    // The latest attempt lives on the task row; the attempts table only keeps earlier ones,
    // so a first-attempt success writes no attempt row at all.
    lastStartedAt: integer('last_started_at'),
    lastDurationMs: integer('last_duration_ms'),
    lastStatusCode: integer('last_status_code'),
    lastError: text('last_error'),
    lastResponse: text('last_response'),
    idempotencyKey: text('idempotency_key'),
  },
  (t) => [
    index('tasks_status_due').on(t.status, t.dueAt),
    index('tasks_app_status_id').on(t.appId, t.status, t.id),
    uniqueIndex('tasks_app_idempotency')
      .on(t.appId, t.idempotencyKey)
      .where(sql`idempotency_key IS NOT NULL`),
  ],
);

export const attempts = sqliteTable(
  'attempts',
  {
    taskId: text('task_id')
      .notNull()
      .references(() => tasks.id, { onDelete: 'cascade' }),
    number: integer('number').notNull(),
    startedAt: integer('started_at').notNull(),
    durationMs: integer('duration_ms').notNull(),
    statusCode: integer('status_code'),
    error: text('error'),
    response: text('response'),
  },
  (t) => [primaryKey({ columns: [t.taskId, t.number] })],
);

// Maintained by triggers (see migrations), so counts never need a scan of tasks. One row per app:
// a status change rewrites a single counter row.
export const appCounts = sqliteTable('app_counts', {
  appId: text('app_id').primaryKey(),
  pending: integer('pending').notNull().default(0),
  inProgress: integer('in_progress').notNull().default(0),
  retry: integer('retry').notNull().default(0),
  completed: integer('completed').notNull().default(0),
  failed: integer('failed').notNull().default(0),
});

export const statsMinutes = sqliteTable(
  'stats_minutes',
  {
    appId: text('app_id').notNull(),
    minute: integer('minute').notNull(), // unix minutes
    enqueued: integer('enqueued').notNull().default(0),
    attempts: integer('attempts').notNull().default(0),
    completed: integer('completed').notNull().default(0),
    failed: integer('failed').notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.appId, t.minute] })],
);

export type TaskRow = typeof tasks.$inferSelect;
export type NewTaskRow = typeof tasks.$inferInsert;
export type AttemptRow = typeof attempts.$inferSelect;
