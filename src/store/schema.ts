import { sql } from 'drizzle-orm';
import { blob, index, integer, primaryKey, sqliteTable, text } from 'drizzle-orm/sqlite-core';

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

// Rows written are the bill (D1 counts each row and each index entry inserted; removing an index
// entry is free). So a task that succeeds at once costs its insert, claim, outcome and deletion
// (4 rows) and nothing else: the table is clustered on (app_id, id) (WITHOUT ROWID, see the
// hand-written migration), which is also every app's listing order, and the only secondary index
// holds rows the sweeper must look at (wake_at set), which a fresh task that succeeds never has.
export const tasks = sqliteTable(
  'tasks',
  {
    appId: text('app_id').notNull(),
    id: text('id').notNull(),
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
    // When the next thing happens to the row: pending/retry = next attempt due; in_progress =
    // lease expiry; completed/failed = deletion time (TTL).
    dueAt: integer('due_at').notNull(),
    // When the sweeper must look at the row (a re-send, a lease, an expiry), or null when nothing
    // needs it: a fresh task is covered by the sweeper's walk over new ids (see store/sweep.ts).
    wakeAt: integer('wake_at'),
    completedAt: integer('completed_at'),
    // The latest attempt lives on the task row; the attempts table only keeps earlier ones,
    // so a first-attempt success writes no attempt row at all.
    lastStartedAt: integer('last_started_at'),
    lastDurationMs: integer('last_duration_ms'),
    lastStatusCode: integer('last_status_code'),
    lastError: text('last_error'),
    lastResponse: text('last_response'),
    idempotencyKey: text('idempotency_key'), // as given (a publish's: its namespaced key); see idempotency_keys
    // The flow (rate / parallelism limit) the task's calls go through, if any (see flow/gate.ts).
    flowKey: text('flow_key'),
    // Where to report the outcome (a new task to that URL) when the task completes / fails for
    // good; and, on such a report, the task it reports on (reports never report on themselves).
    callbackUrl: text('callback_url'),
    failureCallbackUrl: text('failure_callback_url'),
    callbackOf: text('callback_of'),
    scheduleId: text('schedule_id'), // the schedule that made the task, if one did
    // The task's retry policy (JSON, see tasks/retry-policy.ts), or null: its flow's, else the default.
    retryPolicy: text('retry_policy'),
  },
  (t) => [
    primaryKey({ columns: [t.appId, t.id] }),
    index('tasks_wake').on(t.wakeAt).where(sql`wake_at IS NOT NULL`),
    // Waiting tasks the sweeper tracks, per app by due time: the true oldest overdue age.
    index('tasks_waiting').on(t.appId, t.dueAt).where(sql`wake_at IS NOT NULL AND status IN ('pending', 'retry')`),
  ],
);

// Idempotency keys, in the database their tasks went to (WITHOUT ROWID, see migration 0002): a key
// is remembered until expires_at (IDEMPOTENCY_TTL after its enqueue) and while its task lives, so
// a retry never makes a second task even after the first is gone. A topic publish's one key
// covers all its tasks (task_ids, in endpoint order; task_id is the first).
export const idempotencyKeys = sqliteTable(
  'idempotency_keys',
  {
    appId: text('app_id').notNull(),
    key: text('key').notNull(),
    taskId: text('task_id').notNull(),
    taskIds: text('task_ids'), // JSON array, for a publish
    expiresAt: integer('expires_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.appId, t.key] }), index('idempotency_keys_expiry').on(t.expiresAt)],
);

// Earlier attempts of retried tasks (deleted with their task by the statements that delete tasks).
export const attempts = sqliteTable(
  'attempts',
  {
    taskId: text('task_id').notNull(),
    number: integer('number').notNull(),
    startedAt: integer('started_at').notNull(),
    durationMs: integer('duration_ms').notNull(),
    statusCode: integer('status_code'),
    error: text('error'),
    response: text('response'),
  },
  (t) => [primaryKey({ columns: [t.taskId, t.number] })],
);

// One row per app, written in aggregate (once per consumer flush, sweep or API change), never per
// transition by a trigger. The counts cover the app's tasks with id <= folded_to; newer tasks are
// counted live from their own id range (at most a few minutes of enqueues), and the sweeper folds
// them in every minute. expired_to is how far the sweeper's expiry walk has come.
export const appStats = sqliteTable('app_stats', {
  appId: text('app_id').primaryKey(),
  pending: integer('pending').notNull().default(0),
  inProgress: integer('in_progress').notNull().default(0),
  retry: integer('retry').notNull().default(0),
  completed: integer('completed').notNull().default(0),
  failed: integer('failed').notNull().default(0),
  foldedTo: text('folded_to').notNull().default(''),
  expiredTo: text('expired_to').notNull().default(''),
  // All-time throughput up to the minute rollups pruned so far (see pruneStats): a monotonic
  // counter is these plus the rollups still kept, without keeping a row per minute forever.
  enqueuedTotal: integer('enqueued_total').notNull().default(0),
  attemptsTotal: integer('attempts_total').notNull().default(0),
  completedTotal: integer('completed_total').notNull().default(0),
  failedTotal: integer('failed_total').notNull().default(0),
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

// Flow limits per app and key (the home database only): what GET /flows lists and what the
// consumer passes to the key's Durable Object with every request for permission to start.
export const flows = sqliteTable(
  'flows',
  {
    appId: text('app_id').notNull(),
    key: text('key').notNull(),
    rate: integer('rate'), // starts per period, null for no rate limit
    period: integer('period').notNull().default(1), // seconds
    parallelism: integer('parallelism'), // attempts at once, null for no limit
    paused: integer('paused', { mode: 'boolean' }).notNull().default(false),
    updatedAt: integer('updated_at').notNull(),
    retryPolicy: text('retry_policy'), // for its tasks that have none of their own (JSON)
  },
  (t) => [primaryKey({ columns: [t.appId, t.key] })],
);

// Circuit breakers per app and destination (an origin "https://api.example.com", or "flow:<key>" for tasks of a flow),
// in the home database. Only destinations that failed lately have a row: a closed circuit
// counting consecutive failures, an open one (its tasks wait, without spending retries, for one
// probe per interval), or half-open (a probe is out). A success deletes the row.
export const circuits = sqliteTable(
  'circuits',
  {
    appId: text('app_id').notNull(),
    destination: text('destination').notNull(),
    state: text('state', { enum: ['closed', 'open', 'half_open'] }).notNull(),
    failures: integer('failures').notNull(), // consecutive
    since: integer('since').notNull(), // when it entered this state
    probeAt: integer('probe_at').notNull(), // open: when the next probe may go
    intervalMs: integer('interval_ms').notNull(),
    held: text('held'), // JSON array of the ids of tasks it holds back (capped), released when it closes
  },
  (t) => [primaryKey({ columns: [t.appId, t.destination] })],
);

// Circuits that opened or closed since the last cron tick, which sends one ALERT_URL call per app.
export const circuitChanges = sqliteTable('circuit_changes', {
  id: integer('id').primaryKey(),
  appId: text('app_id').notNull(),
  destination: text('destination').notNull(),
  change: text('change', { enum: ['opened', 'closed'] }).notNull(),
  failures: integer('failures').notNull(),
  at: integer('at').notNull(),
  nextProbeAt: integer('next_probe_at'),
});

// Fan-out: a topic's endpoints, per app (home database). Publishing makes one task per endpoint.
export const topics = sqliteTable(
  'topics',
  {
    appId: text('app_id').notNull(),
    name: text('name').notNull(),
    endpoints: text('endpoints').notNull(), // JSON array of URLs
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.appId, t.name] })],
);

// Recurring schedules (home database, where their tasks go too, so that making a run's task and
// moving the schedule on are one transaction). The cron tick reads only those due, by next_run_at.
export const schedules = sqliteTable(
  'schedules',
  {
    appId: text('app_id').notNull(),
    id: text('id').notNull(),
    name: text('name'),
    cron: text('cron').notNull(),
    timezone: text('timezone').notNull(),
    // The task template.
    url: text('url').notNull(),
    method: text('method').notNull(),
    headers: text('headers'),
    body: blob('body', { mode: 'buffer' }),
    contentType: text('content_type'),
    timeout: integer('timeout').notNull(),
    maxRetries: integer('max_retries').notNull(),
    flowKey: text('flow_key'),
    paused: integer('paused', { mode: 'boolean' }).notNull().default(false),
    nextRunAt: integer('next_run_at').notNull(),
    lastRunAt: integer('last_run_at'),
    lastTaskId: text('last_task_id'),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.appId, t.id] }),
    index('schedules_due').on(t.nextRunAt).where(sql`paused = 0`),
  ],
);

export type TaskRow = typeof tasks.$inferSelect;
export type NewTaskRow = typeof tasks.$inferInsert;
export type AttemptRow = typeof attempts.$inferSelect;

// QStash signing keys per app (home database; see migrations/0004_qstash_keys.sql and src/http/v2).
export const qstashKeys = sqliteTable('qstash_keys', {
  appId: text('app_id').primaryKey(),
  current: text('current').notNull(),
  next: text('next').notNull(),
  updatedAt: integer('updated_at').notNull(),
});
