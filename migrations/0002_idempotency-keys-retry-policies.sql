-- Idempotency keys outlive their tasks: a key is remembered (with the task(s) it made) until
-- expires_at, IDEMPOTENCY_TTL after its enqueue, and for as long as its task still exists, so a
-- client's retry never makes a second task. One row per key (a topic publish's one key covers all
-- of its tasks); it replaces the unique index on tasks, so a keyed enqueue writes one row more
-- than before (the expiry index entry) and an unkeyed one nothing new. WITHOUT ROWID: the primary
-- key is the row (no hidden index).
CREATE TABLE `idempotency_keys` (
	`app_id` text NOT NULL,
	`key` text NOT NULL,
	`task_id` text NOT NULL,
	`task_ids` text,
	`expires_at` integer NOT NULL,
	PRIMARY KEY(`app_id`, `key`)
) WITHOUT ROWID;
--> statement-breakpoint
CREATE INDEX `idempotency_keys_expiry` ON `idempotency_keys` (`expires_at`);
--> statement-breakpoint
INSERT INTO `idempotency_keys` (`app_id`, `key`, `task_id`, `task_ids`, `expires_at`)
SELECT `app_id`, `idempotency_key`, `id`, NULL, `created_at` + 86400000 FROM `tasks` WHERE `idempotency_key` IS NOT NULL;
--> statement-breakpoint
DROP INDEX `tasks_app_idempotency`;
--> statement-breakpoint
-- Retry policies per task and per flow (JSON {backoff, min, max} in seconds; null: the default).
ALTER TABLE `tasks` ADD COLUMN `retry_policy` text;
--> statement-breakpoint
ALTER TABLE `flows` ADD COLUMN `retry_policy` text;
