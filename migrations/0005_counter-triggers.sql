-- Counters for GET /stats, kept by triggers so they never drift from the tasks table and reading
-- them never scans it. Row writes are money (D1 bills every row a trigger writes), so:
-- - one app_counts row per app: a status change rewrites one row, not a row per status;
-- - throughput lands in one stats_minutes row per app per minute, written when a task is stored
--   and when an attempt ENDS (status leaves in_progress with the attempt count kept; a claim
--   handed back unstarted lowers the count and is not an attempt), so claiming writes no stats row.
CREATE TRIGGER `tasks_counts_insert` AFTER INSERT ON `tasks` BEGIN
  INSERT INTO app_counts (app_id, pending, in_progress, retry, completed, failed) VALUES (NEW.app_id, NEW.status = 'pending', NEW.status = 'in_progress', NEW.status = 'retry', NEW.status = 'completed', NEW.status = 'failed')
    ON CONFLICT (app_id) DO UPDATE SET pending = pending + (NEW.status = 'pending'), in_progress = in_progress + (NEW.status = 'in_progress'), retry = retry + (NEW.status = 'retry'), completed = completed + (NEW.status = 'completed'), failed = failed + (NEW.status = 'failed');
  INSERT INTO stats_minutes (app_id, minute, enqueued) VALUES (NEW.app_id, NEW.created_at / 60000, 1)
    ON CONFLICT (app_id, minute) DO UPDATE SET enqueued = enqueued + 1;
END;
--> statement-breakpoint
CREATE TRIGGER `tasks_counts_status` AFTER UPDATE OF status ON `tasks` WHEN OLD.status <> NEW.status BEGIN
  UPDATE app_counts SET pending = pending - (OLD.status = 'pending') + (NEW.status = 'pending'), in_progress = in_progress - (OLD.status = 'in_progress') + (NEW.status = 'in_progress'), retry = retry - (OLD.status = 'retry') + (NEW.status = 'retry'), completed = completed - (OLD.status = 'completed') + (NEW.status = 'completed'), failed = failed - (OLD.status = 'failed') + (NEW.status = 'failed') WHERE app_id = NEW.app_id;
END;
--> statement-breakpoint
CREATE TRIGGER `tasks_stats_attempt_ended` AFTER UPDATE OF status ON `tasks`
  WHEN OLD.status = 'in_progress' AND NEW.status <> 'in_progress' AND NEW.attempts = OLD.attempts BEGIN
  INSERT INTO stats_minutes (app_id, minute, attempts, completed, failed)
    VALUES (NEW.app_id, NEW.updated_at / 60000, 1, NEW.status = 'completed', NEW.status = 'failed')
    ON CONFLICT (app_id, minute) DO UPDATE SET attempts = attempts + 1,
      completed = completed + (NEW.status = 'completed'), failed = failed + (NEW.status = 'failed');
END;
--> statement-breakpoint
CREATE TRIGGER `tasks_counts_delete` AFTER DELETE ON `tasks` BEGIN
  UPDATE app_counts SET pending = pending - (OLD.status = 'pending'), in_progress = in_progress - (OLD.status = 'in_progress'), retry = retry - (OLD.status = 'retry'), completed = completed - (OLD.status = 'completed'), failed = failed - (OLD.status = 'failed') WHERE app_id = OLD.app_id;
END;
--> statement-breakpoint
-- Backfill from the rows themselves (a one-off scan, at migration time only).
INSERT INTO app_counts (app_id, pending, in_progress, retry, completed, failed)
  SELECT app_id, sum(status = 'pending'), sum(status = 'in_progress'), sum(status = 'retry'), sum(status = 'completed'), sum(status = 'failed') FROM tasks GROUP BY app_id;
