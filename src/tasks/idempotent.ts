import { newId } from '../ids';
import { insertTasks, asStored, type InsertRow } from '../store/batch';
import { findKeys, type KeyClaim, type KeyHit } from '../store/idempotency';
import type { NewTaskRow } from '../store/schema';
import type { Shard, Shards } from '../store/shards';
import type { Scope } from '../scope';
import type { ListedTask } from '../store/tasks';
import { sendTaskMessagesBestEffort } from './queue-messages';

// Storing tasks, once per idempotency key. A key is remembered for IDEMPOTENCY_TTL after its
// enqueue, and while a task it made still exists: a retry within that time gets what the first
// enqueue made, never a second task. When those tasks are gone (completed and expired, or
// deleted), the retry is told so ("gone": the task id, and until when the key is remembered).

/** A task an idempotency key made that no longer exists. */
export type KeyGone = { key: string; id: string; expiresAt: number };
/** Per task asked for: the task (created now, or made earlier with the same key), or that it is gone. */
export type Enqueued = { task: ListedTask; created: boolean } | { gone: KeyGone };

type Built = Omit<NewTaskRow, 'id'>;
/** What storing tasks needs of the scope (the rows carry their app). */
type Store = Pick<Scope, 'shards' | 'env' | 'config'>;

/** A publish's key: no client key can be it (client keys hold no control characters). */
const publishKey = (topic: string, key: string) => `\u0001topic\n${topic}\n${key}`;

/** What a remembered key answers: each task it made, as it is now, or gone. */
function answer(hit: KeyHit, clientKey: string): Enqueued[] {
  const byId = new Map(hit.tasks.map((t) => [t.id, t]));
  return hit.ids.map((id) => {
    const task = byId.get(id);
    return task ? { task, created: false } : { gone: { key: clientKey, id, expiresAt: hit.expiresAt } };
  });
}

/**
 * Keys made in other databases (a key may have been routed elsewhere before a database was added).
 * A database that cannot answer is skipped (logged): it can only hold keys made before the
 * databases changed, and one database down must not stop keyed enqueues to the others.
 */
async function keysElsewhere(shards: Shards, shard: Shard, o: { appId: string; keys: string[]; now: number }): Promise<Map<string, KeyHit>> {
  const { appId: app, keys, now } = o;
  const found = new Map<string, KeyHit>();
  if (keys.length === 0 || shards.all.length === 1) return found;
  const others = shards.all.filter((s) => s !== shard);
  const each = await Promise.allSettled(others.map((s) => findKeys(s.db, app, keys, now)));
  each.forEach((r, i) => {
    if (r.status === 'fulfilled') for (const [k, hit] of r.value) found.set(k, hit);
    else console.error(`idempotency lookup in ${others[i].binding} failed; going on without it`, r.reason);
  });
  return found;
}

/** Stores rows in one database (one transaction), claiming keys first, then nudges the queue about those created. */
async function store(shard: Shard, env: Env, o: { rows: InsertRow[]; claims: KeyClaim[]; now: number }) {
  const { rows, claims, now } = o;
  const stored = rows.length ? await insertTasks(shard, rows, claims, now) : [];
  await sendTaskMessagesBestEffort(env, stored.flatMap((r) => (r.created ? [{ appId: r.task.appId, id: r.task.id, dueAt: r.task.dueAt }] : [])));
  return stored;
}

/**
 * Stores tasks (one statement, in one database), then nudges the queue about the ones created. D1
 * is the truth: if the send fails the tasks are still accepted, and the sweeper sends them once
 * overdue by SWEEP_GRACE. Used by `POST /` (one row) and `POST /batch`. A keyed task goes to its
 * key's database; rows sharing a key (in one batch, or in concurrent requests) make one task.
 */
export async function enqueue(s: Store, built: Built[], now = Date.now()): Promise<Enqueued[]> {
  const { shards, env } = s;
  const ttl = s.config.ms.IDEMPOTENCY_TTL;
  const app = built[0].appId;
  const keys = [...new Set(built.flatMap((r) => (r.idempotencyKey ? [r.idempotencyKey] : [])))];
  const shard = keys.length ? shards.forKey(app, keys[0]) : shards.pick();
  const elsewhere = await keysElsewhere(shards, shard, { appId: app, keys, now });
  // The first row with a key owns it; later rows with that key are not stored, but answered as it is.
  const owners = new Map<string, number>();
  const rows: InsertRow[] = [];
  const claims: KeyClaim[] = [];
  const slot = built.map((r) => {
    const key = r.idempotencyKey;
    if (key && elsewhere.has(key)) return -1;
    if (key && owners.has(key)) return owners.get(key)!;
    const row = { ...r, id: newId(r.createdAt, shard.n), keyOwner: undefined as string | undefined };
    if (key) {
      owners.set(key, rows.length);
      row.keyOwner = row.id;
      claims.push({ appId: app, key, owner: row.id, ids: null, expiresAt: r.createdAt + ttl });
    }
    return rows.push(row) - 1;
  });
  const stored = await store(shard, env, { rows, claims, now });
  return built.map((r, i): Enqueued => {
    if (slot[i] < 0) return answer(elsewhere.get(r.idempotencyKey!)!, r.idempotencyKey!)[0];
    const s = stored[slot[i]];
    if (!s.created) return answer(s.hit, r.idempotencyKey!)[0];
    return { task: s.task, created: firstOf(slot, i) };
  });
}

/** Whether position i is the first to use its slot (later rows with the same key made nothing). */
const firstOf = (slot: number[], i: number) => slot.indexOf(slot[i]) === i;

/**
 * A topic publish: one task per endpoint (`built` by buildTask, which checked the key, in endpoint
 * order), in one transaction. With an
 * Idempotency-Key the publish is one keyed unit: a retry gets the original publish's tasks, in its
 * order, whatever the topic holds now (tasks since gone are said to be gone).
 */
export async function publish(s: Store, built: Built[], o: { topic: string; key?: string; now: number }): Promise<{ tasks: Enqueued[]; created: boolean }> {
  const { shards, env } = s;
  const { topic, key, now } = o;
  if (!key) return { tasks: await enqueue(s, built, now), created: true };
  const ttl = s.config.ms.IDEMPOTENCY_TTL;
  const app = built[0].appId;
  const derived = publishKey(topic, key);
  const shard = shards.forKey(app, derived);
  const earlier = (await keysElsewhere(shards, shard, { appId: app, keys: [derived], now })).get(derived);
  if (earlier) return { tasks: answer(earlier, key), created: false };
  const rows: InsertRow[] = built.map((r) => ({ ...r, id: newId(r.createdAt, shard.n), idempotencyKey: derived }));
  const ids = rows.map((r) => r.id!);
  for (const r of rows) r.keyOwner = ids[0];
  const stored = await store(shard, env, { rows, claims: [{ appId: app, key: derived, owner: ids[0], ids, expiresAt: now + ttl }], now });
  const first = stored[0];
  if (first.created) return { tasks: rows.map((r) => ({ task: asStored(r), created: true })), created: true };
  return { tasks: answer(first.hit, key), created: false };
}
