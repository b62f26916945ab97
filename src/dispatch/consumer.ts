import { getConfig, type Config } from '../config';
import type { DB } from '../store';
import { openShards, type Shard } from '../store/shards';
import type { Outcome } from '../store/outcomes';
import type { TaskRow } from '../store/schema';
import { claimTasks, unclaimTasks } from '../store/claim';
import { flowControl } from '../flow/admit';
import { breakers } from '../flow/breaker';
import { peekTasks, type TaskKey } from '../store/tasks';
import { callHook, internalFailure, type AttemptResult } from './call';
import { decideNext } from './outcome';
import { FLUSH_COST, outcomeLog } from './outcome-log';
import { nudge, type TaskMessage } from '../tasks/nudge';

export type { TaskMessage };

// Workers allow 6 simultaneous outgoing connections per invocation (D1 and queue calls included);
// a fetch beyond them waits while its deadline runs. Hooks get 5, so recording outcomes and
// re-sending never wait behind hung hooks.
export const HOOK_CONCURRENCY = 5;
// Slots free up one at a time; waiting this long for more lets one claim statement refill several.
export const REFILL_WAIT_MS = 20;
// A task that cannot start within this long (every slot held by slower hooks) is handed back to
// the queue, so another invocation runs it instead of it waiting behind somebody else's hook.
export const HAND_BACK_AFTER_MS = 1000;
// D1 statements one invocation may send (the platform allows 1,000 queries per invocation; the rest
// is room for the peek and slack). Counted as claims (at most 3 statements per database a claim
// touches) and outcome flushes (FLUSH_COST per database); when it runs low, no more tasks are
// claimed and the rest go back to the queue.
export const D1_STATEMENTS = 900;
const CLAIM_COST = 3;
// Ids one invocation takes on at all: the queues deliver about 100 (see wrangler.toml); more would
// only wait for this invocation's 5 slots, so the rest are sent again for other invocations.
export const MAX_IDS_PER_INVOCATION = 100;

/** One attempt, whatever happens inside it: a throw is this task's failed attempt, never the batch's. */
async function attempt(task: TaskRow, cfg: Config, note: (task: TaskRow, result: AttemptResult) => void): Promise<Outcome> {
  const startedAt = Date.now();
  let result: AttemptResult;
  try {
    result = await callHook(task, cfg.SIGNING_SECRET, cfg);
  } catch (err) {
    result = internalFailure(err, startedAt);
  }
  note(task, result);
  return { task, ...result, next: decideNext(task, result, cfg, result.startedAt + result.durationMs) };
}

/**
 * Runs a batch without head-of-line blocking: a task is claimed only when a connection slot is free
 * to start it at once (so `in_progress` means running, its lease is its own timeout plus grace,
 * and a task deleted before its turn is never claimed, hence never called). Ids that cannot start
 * within HAND_BACK_AFTER_MS go back to the queue for another invocation.
 */
export async function handleQueue(batch: MessageBatch<TaskMessage>, env: Env): Promise<void> {
  const cfg = getConfig(env);
  const shards = openShards(env, cfg);
  const start = Date.now();
  const budgetEnd = start + cfg.CONSUMER_BUDGET * 1000;
  const keys = new Map<string, TaskKey>();
  // Ids this invocation gives up (no slot in time, no budget left): sent again for another one.
  // (Re-sent, not retried: a message's retries are few, and one message carries many ids.)
  const handBack = new Map<string, TaskKey>();
  for (const m of batch.messages) {
    const { ids, app } = (m.body ?? {}) as Partial<TaskMessage>;
    // A malformed message has nothing to do, ever: it is acked with the rest.
    if (!Array.isArray(ids) || typeof app !== 'string') continue;
    for (const id of ids) {
      if (typeof id !== 'string' || keys.has(id) || handBack.has(id)) continue;
      // An id naming no database of this deployment (one dropped from DATABASES without draining
      // it first, see README) can never be run here.
      if (!shards.of(id)) {
        console.error(`task ${id} names a database that is not in DATABASES; its message is dropped`);
        continue;
      }
      (keys.size < MAX_IDS_PER_INVOCATION ? keys : handBack).set(id, { app, id });
    }
  }
  // Grouped by database, so a claim (one statement per database it touches) usually touches one.
  const shardOf = (k: TaskKey) => shards.of(k.id)!;
  const waiting = [...keys.values()].sort((a, b) => shardOf(a).n - shardOf(b).n);
  const notClaimed: TaskKey[] = [];
  const claimFailed = new Set<string>();
  const budget = { used: 0, limit: D1_STATEMENTS };
  const logs = new Map<Shard, ReturnType<typeof outcomeLog>>();
  const logOf = (s: Shard) => logs.get(s) ?? logs.set(s, outcomeLog(s.db, env, cfg, budget)).get(s)!;
  const running = new Set<Promise<void>>();
  const flows = flowControl(env, cfg, shards.home.db);
  const circuits = breakers(cfg, shards.home.db);
  // Tasks their flow holds back go back to waiting (attempt count unchanged) and to the queue,
  // due when the flow should take them; in the background, so no slot waits for it.
  const holding: Promise<unknown>[] = [];
  const holdBack = (shard: Shard, held: { task: TaskRow; dueAt: number }[]) => {
    budget.used += 2;
    holding.push(unclaimTasks(shard.db, held.map(({ task, dueAt }) => ({ app: task.appId, id: task.id, attempts: task.attempts, dueAt })), Date.now(), cfg.SWEEP_GRACE * 1000)
      .then(() => nudge(env, held.map(({ task, dueAt }) => ({ app: task.appId, id: task.id, dueAt }))))
      // Left in_progress, they are put back by the sweeper once their lease runs out.
      .catch((err) => console.error('holding back tasks failed', err)));
  };
  let lastStart = Date.now();
  let freeSince: number | undefined;
  const until = (ms: number) => Promise.race([...running, new Promise((r) => setTimeout(r, ms))]);

  while (waiting.length) {
    const free = HOOK_CONCURRENCY - running.size;
    if (free === 0) {
      const wait = HAND_BACK_AFTER_MS - (Date.now() - lastStart);
      if (wait <= 0) break; // every slot held too long by slow hooks: give the rest to others
      await until(wait);
      continue;
    }
    if (running.size > 0 && free < Math.min(HOOK_CONCURRENCY, waiting.length)) {
      freeSince ??= Date.now();
      const wait = REFILL_WAIT_MS - (Date.now() - freeSince);
      if (wait > 0) {
        await until(wait);
        continue;
      }
    }
    freeSince = undefined;
    const take = waiting.splice(0, HOOK_CONCURRENCY - running.size);
    const groups = byShard(take, shardOf);
    // Keep enough budget to record every attempt running (one flush each at worst) and a last one.
    if (budget.used + CLAIM_COST * groups.size + FLUSH_COST * (HOOK_CONCURRENCY + groups.size) > D1_STATEMENTS) {
      waiting.unshift(...take);
      break;
    }
    budget.used += CLAIM_COST * groups.size;
    // A database that fails to claim fails alone: its tasks come back (queue retry), the others run.
    const claims = await Promise.all([...groups].map(async ([shard, keys]) => {
      try {
        return { shard, keys, claimed: await claimTasks(shard.db, keys, Date.now(), cfg.SWEEP_GRACE * 1000, budgetEnd - Date.now()) };
      } catch (err) {
        console.error(`claim failed in ${shard.binding}`, err);
        // The rest of this database's tasks are not tried again in this invocation either.
        for (const k of [...keys, ...waiting.filter((w) => shardOf(w) === shard)]) claimFailed.add(k.id);
        waiting.splice(0, waiting.length, ...waiting.filter((w) => !claimFailed.has(w.id)));
        return { shard, keys, claimed: [] as TaskRow[] };
      }
    }));
    lastStart = Date.now();
    for (const { shard, keys, claimed } of claims) {
      const got = new Set(claimed.map((t) => t.id));
      notClaimed.push(...keys.filter((k) => !got.has(k.id) && !claimFailed.has(k.id)));
      // A destination whose circuit is open holds its tasks back first; flows then pace the rest.
      const open = await circuits.check(claimed);
      if (open.held.length) holdBack(shard, open.held);
      const { go, held } = await flows.admit(open.go, cfg.SWEEP_GRACE * 1000);
      if (held.length) holdBack(shard, held);
      for (const { task, startAt, release } of go) {
        // A task its flow lets start on a slot up to SOON_MS away keeps its hook slot until then.
        const wait = startAt - Date.now();
        const p: Promise<void> = (wait > 0 ? new Promise((r) => setTimeout(r, wait)) : Promise.resolve())
          .then(() => attempt(task, cfg, circuits.note)).then((o) => logOf(shard).add(o)).then(release).finally(() => running.delete(p));
        running.add(p);
      }
    }
  }
  for (const k of waiting) handBack.set(k.id, k);
  const settled = Promise.all([...byShard(notClaimed, shardOf)].map(([shard, keys]) =>
    settleUnclaimed(shard.db, env, keys, start, handBack).catch((err) => console.error('unclaimed follow-up failed', err))));
  await Promise.all(running);
  await Promise.all([...logs.values()].map((log) => log.flush()));
  await Promise.all(holding);
  await circuits.flush();
  await settled;
  await nudge(env, [...handBack.values()].map((k) => ({ ...k, dueAt: start })));
  if (claimFailed.size === 0) return batch.ackAll();
  // D1 trouble: the messages naming tasks that could not be claimed come back in a moment.
  const failed = (m: Message<TaskMessage>) => Array.isArray(m.body?.ids) && m.body.ids.some((id) => claimFailed.has(id));
  if (batch.messages.every(failed)) return batch.retryAll({ delaySeconds: 5 });
  for (const m of batch.messages) (failed(m) ? m.retry({ delaySeconds: 5 }) : m.ack());
}

function byShard(keys: TaskKey[], shardOf: (k: TaskKey) => Shard): Map<Shard, TaskKey[]> {
  const groups = new Map<Shard, TaskKey[]>();
  for (const k of keys) groups.get(shardOf(k))?.push(k) ?? groups.set(shardOf(k), [k]);
  return groups;
}

/**
 * Messages that claimed nothing: early ones are re-sent for when their task is due; a task that is
 * due but was not claimed (its timeout did not fit the remaining budget) goes back to the queue.
 * Everything else (done, deleted, running elsewhere) needs nothing.
 */
async function settleUnclaimed(db: DB, env: Env, keys: TaskKey[], now: number, handBack: Map<string, TaskKey>): Promise<void> {
  const rows = (await peekTasks(db, keys)).filter((t) => t.status === 'pending' || t.status === 'retry');
  for (const t of rows) if (t.dueAt <= now) handBack.set(t.id, t);
  await nudge(env, rows.filter((t) => t.dueAt > now), now);
}
