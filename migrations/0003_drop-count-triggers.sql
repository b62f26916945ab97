-- Counters move to one row per app (app_counts, next migration): a status change then rewrites
-- one counter row instead of two, and attempts are counted when an attempt ends, not when it
-- starts. The old triggers go first, while the table they write still exists.
DROP TRIGGER IF EXISTS `tasks_count_insert`;
--> statement-breakpoint
DROP TRIGGER IF EXISTS `tasks_count_status`;
--> statement-breakpoint
DROP TRIGGER IF EXISTS `tasks_count_delete`;
--> statement-breakpoint
DROP TRIGGER IF EXISTS `tasks_stats_attempt`;
--> statement-breakpoint
DROP TRIGGER IF EXISTS `tasks_stats_finished`;
