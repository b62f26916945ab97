-- What drizzle-kit cannot express. D1 bills every row and index entry a statement inserts, and a
-- table whose primary key is not an INTEGER keeps that key in a hidden index of its own: one more
-- row per insert. WITHOUT ROWID stores the rows in primary-key order instead, so inserting a task
-- writes exactly one row, and an app's tasks lie together, newest last, for listing. The tables
-- are empty here, so they are simply rebuilt with the same columns.
DROP TABLE `tasks`;
--> statement-breakpoint
CREATE TABLE `tasks_clustered` (
	`app_id` text NOT NULL,
	`id` text NOT NULL,
	`url` text NOT NULL,
	`method` text NOT NULL,
	`headers` text,
	`body` blob,
	`content_type` text,
	`status` text NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`max_retries` integer NOT NULL,
	`retry_base` integer DEFAULT 0 NOT NULL,
	`timeout` integer NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`due_at` integer NOT NULL,
	`wake_at` integer,
	`completed_at` integer,
	`last_started_at` integer,
	`last_duration_ms` integer,
	`last_status_code` integer,
	`last_error` text,
	`last_response` text,
	`idempotency_key` text,
	`flow_key` text,
	`callback_url` text,
	`failure_callback_url` text,
	`callback_of` text,
	`schedule_id` text,
	PRIMARY KEY(`app_id`, `id`)
) WITHOUT ROWID;
--> statement-breakpoint
ALTER TABLE `tasks_clustered` RENAME TO `tasks`;
--> statement-breakpoint
CREATE INDEX `tasks_wake` ON `tasks` (`wake_at`) WHERE wake_at IS NOT NULL;
--> statement-breakpoint
CREATE INDEX `tasks_waiting` ON `tasks` (`app_id`,`due_at`) WHERE wake_at IS NOT NULL AND status IN ('pending', 'retry');
--> statement-breakpoint
CREATE UNIQUE INDEX `tasks_app_idempotency` ON `tasks` (`app_id`,`idempotency_key`) WHERE idempotency_key IS NOT NULL;
--> statement-breakpoint
DROP TABLE `attempts`;
--> statement-breakpoint
CREATE TABLE `attempts_clustered` (
	`task_id` text NOT NULL,
	`number` integer NOT NULL,
	`started_at` integer NOT NULL,
	`duration_ms` integer NOT NULL,
	`status_code` integer,
	`error` text,
	`response` text,
	PRIMARY KEY(`task_id`, `number`)
) WITHOUT ROWID;
--> statement-breakpoint
ALTER TABLE `attempts_clustered` RENAME TO `attempts`;
--> statement-breakpoint
-- The app every task belongs to while AUTHENTICATE is off, with its counter row.
INSERT INTO apps (id, name, created_at) VALUES ('default', 'default', 0);
--> statement-breakpoint
INSERT INTO app_stats (app_id) VALUES ('default');
