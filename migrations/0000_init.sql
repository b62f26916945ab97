CREATE TABLE `api_keys` (
	`id` text PRIMARY KEY NOT NULL,
	`app_id` text NOT NULL,
	`hash` text NOT NULL,
	`created_at` integer NOT NULL,
	`revoked_at` integer,
	FOREIGN KEY (`app_id`) REFERENCES `apps`(`id`) ON UPDATE no action ON DELETE cascade
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
	PRIMARY KEY(`task_id`, `number`),
	FOREIGN KEY (`task_id`) REFERENCES `tasks`(`id`) ON UPDATE no action ON DELETE cascade
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
CREATE TABLE `task_counts` (
	`app_id` text NOT NULL,
	`status` text NOT NULL,
	`n` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`app_id`, `status`)
);
--> statement-breakpoint
CREATE TABLE `tasks` (
	`id` text PRIMARY KEY NOT NULL,
	`app_id` text NOT NULL,
	`url` text NOT NULL,
	`method` text NOT NULL,
	`headers` text,
	`body` blob,
	`content_type` text,
	`status` text NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`max_retries` integer NOT NULL,
	`timeout` integer NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`due_at` integer NOT NULL,
	`completed_at` integer,
	`last_started_at` integer,
	`last_duration_ms` integer,
	`last_status_code` integer,
	`last_error` text,
	`last_response` text,
	`idempotency_key` text
);
--> statement-breakpoint
CREATE INDEX `tasks_status_due` ON `tasks` (`status`,`due_at`);--> statement-breakpoint
CREATE INDEX `tasks_app_status_id` ON `tasks` (`app_id`,`status`,`id`);--> statement-breakpoint
CREATE UNIQUE INDEX `tasks_app_idempotency` ON `tasks` (`app_id`,`idempotency_key`) WHERE idempotency_key IS NOT NULL;