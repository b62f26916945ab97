-- Circuit breakers are keyed by origin (scheme, host and port: "https://api.example.com",
-- "http://127.0.0.1:54549") instead of host. Circuits are passing state: the old host-keyed rows
-- are dropped (an open one simply closes; its tasks were never failed by it).
DELETE FROM `circuits` WHERE `destination` LIKE 'host:%';
--> statement-breakpoint
-- The ids of tasks an open circuit holds back (a JSON array, capped), so that the probe's success
-- or a reset lets them go at once instead of at their next look.
ALTER TABLE `circuits` ADD `held` text;
--> statement-breakpoint
-- Circuits that opened or closed since the last cron tick: the tick sends one ALERT_URL call per
-- app listing them, then deletes them.
CREATE TABLE `circuit_changes` (
	`id` integer PRIMARY KEY,
	`app_id` text NOT NULL,
	`destination` text NOT NULL,
	`change` text NOT NULL,
	`failures` integer NOT NULL,
	`at` integer NOT NULL,
	`next_probe_at` integer
);
