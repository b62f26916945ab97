CREATE TABLE `api_keys` (
	`id` text PRIMARY KEY NOT NULL,
	`app_id` text NOT NULL,
	`hash` text NOT NULL,
	`created_at` integer NOT NULL,
	`revoked_at` integer,
	FOREIGN KEY (`app_id`) REFERENCES `apps`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `app_stats` (
	`app_id` text PRIMARY KEY NOT NULL,
	`pending` integer DEFAULT 0 NOT NULL,
	`in_progress` integer DEFAULT 0 NOT NULL,
	`retry` integer DEFAULT 0 NOT NULL,
	`completed` integer DEFAULT 0 NOT NULL,
	`failed` integer DEFAULT 0 NOT NULL,
	`folded_to` text DEFAULT '' NOT NULL,
	`expired_to` text DEFAULT '' NOT NULL,
	`enqueued_total` integer DEFAULT 0 NOT NULL,
	`attempts_total` integer DEFAULT 0 NOT NULL,
	`completed_total` integer DEFAULT 0 NOT NULL,
	`failed_total` integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE TABLE `apps` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `attempts` (
	`task_id` text NOT NULL,
	`number` integer NOT NULL,
	`started_at` integer NOT NULL,
	`duration_ms` integer NOT NULL,
	`status_code` integer,
	`error` text,
	`response` text,
	PRIMARY KEY(`task_id`, `number`)
);
--> statement-breakpoint
CREATE TABLE `circuits` (
	`app_id` text NOT NULL,
	`destination` text NOT NULL,
	`state` text NOT NULL,
	`failures` integer NOT NULL,
	`since` integer NOT NULL,
	`probe_at` integer NOT NULL,
	`interval_ms` integer NOT NULL,
	PRIMARY KEY(`app_id`, `destination`)
);
--> statement-breakpoint
CREATE TABLE `flows` (
	`app_id` text NOT NULL,
	`key` text NOT NULL,
	`rate` integer,
	`period` integer DEFAULT 1 NOT NULL,
	`parallelism` integer,
	`paused` integer DEFAULT false NOT NULL,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`app_id`, `key`)
);
--> statement-breakpoint
CREATE TABLE `stats_minutes` (
	`app_id` text NOT NULL,
	`minute` integer NOT NULL,
	`enqueued` integer DEFAULT 0 NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`completed` integer DEFAULT 0 NOT NULL,
	`failed` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`app_id`, `minute`)
);
--> statement-breakpoint
CREATE TABLE `tasks` (
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
);
--> statement-breakpoint
CREATE INDEX `tasks_wake` ON `tasks` (`wake_at`) WHERE wake_at IS NOT NULL;--> statement-breakpoint
CREATE INDEX `tasks_waiting` ON `tasks` (`app_id`,`due_at`) WHERE wake_at IS NOT NULL AND status IN ('pending', 'retry');--> statement-breakpoint
CREATE UNIQUE INDEX `tasks_app_idempotency` ON `tasks` (`app_id`,`idempotency_key`) WHERE idempotency_key IS NOT NULL;
--> statement-breakpoint
CREATE TABLE `topics` (
	`app_id` text NOT NULL,
	`name` text NOT NULL,
	`endpoints` text NOT NULL,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`app_id`, `name`)
);
--> statement-breakpoint
CREATE TABLE `schedules` (
	`app_id` text NOT NULL,
	`id` text NOT NULL,
	`name` text,
	`cron` text NOT NULL,
	`timezone` text NOT NULL,
	`url` text NOT NULL,
	`method` text NOT NULL,
	`headers` text,
	`body` blob,
	`content_type` text,
	`timeout` integer NOT NULL,
	`max_retries` integer NOT NULL,
	`flow_key` text,
	`paused` integer DEFAULT false NOT NULL,
	`next_run_at` integer NOT NULL,
	`last_run_at` integer,
	`last_task_id` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`app_id`, `id`)
);
--> statement-breakpoint
CREATE INDEX `schedules_due` ON `schedules` (`next_run_at`) WHERE paused = 0;
