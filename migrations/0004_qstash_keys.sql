-- Per-app QStash signing keys (the /v2 API): deliveries of /v2 tasks carry an Upstash-Signature
-- JWT signed with `current`; receivers also accept `next`, so a rotation (next becomes current, a
-- new next is made) never breaks a receiver that holds both. Made on first use, in the home database.
CREATE TABLE `qstash_keys` (
	`app_id` text PRIMARY KEY NOT NULL,
	`current` text NOT NULL,
	`next` text NOT NULL,
	`updated_at` integer NOT NULL
) WITHOUT ROWID;
