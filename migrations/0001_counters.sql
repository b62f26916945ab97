-- Counters for GET /stats, kept by triggers so they can never drift from the tasks table and
-- reading them never scans it. Every change of a task's status moves one unit between rows of
-- task_counts; throughput lands in one row per app per minute.
CREATE TRIGGER `tasks_count_insert` AFTER INSERT ON `tasks` BEGIN
  INSERT INTO task_counts (app_id, status, n) VALUES (NEW.app_id, NEW.status, 1)
    ON CONFLICT (app_id, status) DO UPDATE SET n = n + 1;
  INSERT INTO stats_minutes (app_id, minute, enqueued) VALUES (NEW.app_id, NEW.created_at / 60000, 1)
    ON CONFLICT (app_id, minute) DO UPDATE SET enqueued = enqueued + 1;
END;
--> statement-breakpoint
CREATE TRIGGER `tasks_count_status` AFTER UPDATE OF status ON `tasks` WHEN OLD.status <> NEW.status BEGIN
  UPDATE task_counts SET n = n - 1 WHERE app_id = OLD.app_id AND status = OLD.status;
  INSERT INTO task_counts (app_id, status, n) VALUES (NEW.app_id, NEW.status, 1)
    ON CONFLICT (app_id, status) DO UPDATE SET n = n + 1;
END;
--> statement-breakpoint
CREATE TRIGGER `tasks_count_delete` AFTER DELETE ON `tasks` BEGIN
  UPDATE task_counts SET n = n - 1 WHERE app_id = OLD.app_id AND status = OLD.status;
END;
--> statement-breakpoint
CREATE TRIGGER `tasks_stats_attempt` AFTER UPDATE OF attempts ON `tasks` WHEN NEW.attempts > OLD.attempts BEGIN
  INSERT INTO stats_minutes (app_id, minute, attempts) VALUES (NEW.app_id, NEW.updated_at / 60000, 1)
    ON CONFLICT (app_id, minute) DO UPDATE SET attempts = attempts + 1;
END;
--> statement-breakpoint
CREATE TRIGGER `tasks_stats_finished` AFTER UPDATE OF status ON `tasks`
  WHEN OLD.status <> NEW.status AND NEW.status IN ('completed', 'failed') BEGIN
  INSERT INTO stats_minutes (app_id, minute, completed, failed)
    VALUES (NEW.app_id, NEW.updated_at / 60000, NEW.status = 'completed', NEW.status = 'failed')
    ON CONFLICT (app_id, minute) DO UPDATE SET
      completed = completed + (NEW.status = 'completed'), failed = failed + (NEW.status = 'failed');
END;
--> statement-breakpoint
INSERT INTO apps (id, name, created_at) VALUES ('default', 'default', 0);
