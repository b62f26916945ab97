import { getConfig } from '../config';
import { openShards, type Shard } from '../store/shards';
import type { TaskRow } from '../store/schema';
import { claimedBody, claimTasks, START_WINDOW_MS, unclaimTasks, type ClaimedTask } from '../store/claim';
import { SOON_MS } from '../flow/gate';
import { flowControl } from '../flow/admit';
import { breakers } from '../flow/breaker';
import type { TaskKey } from '../store/tasks';
import { byShard, idsOf, settleUnclaimed } from './messages';
import { attempt } from './outcome';
import { FLUSH_COST, outcomeLog } from './outcome-log';
import { nudge, type TaskMessage } from '../tasks/nudge';
import { isTransient, retryTransient, RETRY_AFTER_S } from '../store/errors';
import { currentKeyLookup } from '../store/qstash-keys';

export type { TaskMessage };

// Workers allow 6 simultaneous outgoing connections per invocation (D1 and queue calls included);
// a fetch beyond them waits while its deadline runs. Hooks get 5, so recording outcomes and
// re-sending never wait behind hung hooks.
export const HOOK_CONCURRENCY = 5;
// Slots free up one at a time; waiting this long for more lets one claim statement refill several.
export const REFILL_WAIT_MS = 20;
// A claim takes the tasks the free slots can start now and, once attempts have been ending, those
// the slots should start within PLAN_MS at the pace they end: with fast hooks one claim statement
// covers a whole batch, with slow ones a claim is no bigger than the free slots.
export const PLAN_MS = 250;
// A claimed task that found no slot this long after its claim is handed back (unclaimed, re-sent):
// with a flow's slot at most SOON_MS further, every attempt starts within START_WINDOW_MS of its
// claim, the promise a DELETE relies on.
export const POOL_MS = START_WINDOW_MS - SOON_MS;
// A task that cannot start within this long (every slot held by slower hooks) is handed back to
// the queue, so another invocation runs it instead of it waiting behind somebody else's hook.
export const HAND_BACK_AFTER_MS = 1000;
// D1 statements one invocation may send (the platform allows 1,000 queries per invocation; the rest
// is room for the peek and slack). Counted as claims (at most 3 statements per database a claim
// touches), reads of big bodies (one each) and outcome flushes (FLUSH_COST per database); when it
// runs low, no more tasks are claimed and the rest go back to the queue.
export const D1_STATEMENTS = 900;
const CLAIM_COST = 3;
export { MAX_IDS_PER_INVOCATION } from './messages';

// claimedAt: when the database ran the claim (the task's updated_at; see START_WINDOW_MS).
type Claimed = { task: ClaimedTask; shard: Shard; claimedAt: number };

/**
 * Runs a batch without head-of-line blocking: tasks are claimed only as fast as the connection
 * slots can start them (each starts within START_WINDOW_MS of its claim, or goes back unclaimed),
 * so `in_progress` means running or about to, a lease is the task's own timeout plus grace, and a
 * task deleted before its claim is never claimed. Ids that cannot start within HAND_BACK_AFTER_MS
 * go back to the queue for another invocation.
 */
export async function handleQueue(batch: MessageBatch<TaskMessage>, env: Env): Promise<void> {
  const cfg = getConfig(env);
  const shards = openShards(env, cfg);
  const start = Date.now();
  const budgetEnd = start + cfg.CONSUMER_BUDGET * 1000;
  // Ids this invocation gives up (no slot in time, no budget left) go into handBack: sent again
  // for another one.
  const { keys, handBack } = idsOf(batch, shards);
  // Grouped by database, so a claim (one statement per database it touches) usually touches one.
  const shardOf = (k: TaskKey) => shards.of(k.id)!;
  const waiting = [...keys.values()].sort((a, b) => shardOf(a).n - shardOf(b).n);
  const pool: Claimed[] = []; // claimed, in claim order, waiting for a slot
  const notClaimed: TaskKey[] = [];
  const claimFailed = new Set<string>();
  const budget = { used: 0, limit: D1_STATEMENTS };
  const logs = new Map<Shard, ReturnType<typeof outcomeLog>>();
  const logOf = (s: Shard) => logs.get(s) ?? logs.set(s, outcomeLog(s.db, env, cfg, budget)).get(s)!;
  const running = new Set<Promise<void>>();
  const flows = flowControl(env, cfg, shards.home.db);
  const circuits = breakers(env, cfg, shards);
  const qstashKey = currentKeyLookup(shards.home.db); // /v2 tasks' signing keys, read when needed
  // Claimed tasks that may not start (their flow holds them back, or they found no slot in time)
  // go back to waiting (attempt count unchanged) and to the queue, due when they may go; in the
  // background, so no slot waits for it.
  const holding: Promise<unknown>[] = [];
  const holdBack = (shard: Shard, held: { task: TaskRow; dueAt: number }[]) => {
    if (held.length === 0) return;
    budget.used += 2;
    holding.push(retryTransient(() => unclaimTasks(shard.db, held.map(({ task, dueAt }) => ({ app: task.appId, id: task.id, attempts: task.attempts, dueAt })), Date.now(), cfg.SWEEP_GRACE * 1000))
      .then(() => nudge(env, held.map(({ task, dueAt }) => ({ app: task.appId, id: task.id, dueAt }))))
      // Left in_progress, they are put back by the sweeper once their lease runs out.
      .catch((err) => console.error('holding back tasks failed', err)));
  };
  // How long a slot has been taken per task lately (unknown until an attempt ends).
  let pace: number | undefined;
  const run = (c: Claimed, startAt: number, release: () => Promise<void>) => {
    const taken = Date.now();
    const wait = startAt - taken;
    const p: Promise<void> = (wait > 0 ? new Promise((r) => setTimeout(r, wait)) : Promise.resolve())
      .then(async () => {
        let task: TaskRow = c.task;
        if (c.task.body == null && c.task.bodyBytes) {
          budget.used++;
          const row = await claimedBody(c.shard.db, c.task);
          if (!row) return; // deleted since its claim: nothing to do
          task = { ...c.task, body: row.body as TaskRow['body'] };
        }
        // The claim's promise (see START_WINDOW_MS): an attempt that cannot start in time does not.
        if (Date.now() > c.claimedAt + START_WINDOW_MS) return holdBack(c.shard, [{ task, dueAt: Date.now() }]);
        logOf(c.shard).add(await attempt(task, cfg, circuits.note, qstashKey));
      })
      // Only reading a big body can throw here. A transient D1 failure hands the task back (its
      // attempt not spent); anything else leaves it claimed until its lease runs out.
      .catch((err) => {
        console.error(`task ${c.task.id}: its body could not be read`, err);
        if (isTransient(err)) holdBack(c.shard, [{ task: c.task, dueAt: Date.now() + RETRY_AFTER_S * 1000 }]);
      })
      .then(release)
      .finally(() => {
        const took = Date.now() - taken;
        // Up at once, down slowly: a slowdown shrinks the next claim at once.
        pace = pace === undefined || took > pace ? took : 0.8 * pace + 0.2 * took;
        running.delete(p);
      });
    running.add(p);
  };
  // Big bodies are read one per start whatever the claim: claiming them ahead saves nothing.
  let bigBodies = false;
  const plan = (free: number) => free + (pace === undefined || bigBodies ? 0 : Math.floor((HOOK_CONCURRENCY * PLAN_MS) / Math.max(pace, 1)));
  let lastStart = Date.now();
  let freeSince: number | undefined;
  const until = (ms: number) => Promise.race([...running, new Promise((r) => setTimeout(r, ms))]);

  while (waiting.length || pool.length) {
    // Claimed tasks that found no slot in time go back for another invocation.
    const now = Date.now();
    const stale = pool.filter((c) => now > c.claimedAt + POOL_MS);
    if (stale.length) pool.splice(0, pool.length, ...pool.filter((c) => now <= c.claimedAt + POOL_MS));
    for (const [shard, late] of byShard(stale, (c) => c.shard)) holdBack(shard, late.map((c) => ({ task: c.task, dueAt: Date.now() })));
    const free = HOOK_CONCURRENCY - running.size;
    if (free === 0) {
      const wait = pool.length ? Math.min(...pool.map((c) => c.claimedAt)) + POOL_MS + 1 - Date.now() : HAND_BACK_AFTER_MS - (Date.now() - lastStart);
      if (wait <= 0 && !pool.length) break; // every slot held too long by slow hooks: give the rest to others
      await until(Math.max(wait, 1));
      continue;
    }
    // Slots free up one at a time: waiting a moment for more lets one claim, one circuit check and
    // one flow admission serve several.
    if (running.size > 0 && free < Math.min(HOOK_CONCURRENCY, waiting.length + pool.length)) {
      freeSince ??= Date.now();
      const wait = REFILL_WAIT_MS - (Date.now() - freeSince);
      if (wait > 0) {
        await until(wait);
        continue;
      }
    }
    freeSince = undefined;
    if (pool.length === 0) {
      const take = waiting.splice(0, plan(free));
      const groups = byShard(take, shardOf);
      // Keep enough budget to record every attempt running (one flush each at worst), read big
      // bodies, and a last flush.
      if (budget.used + CLAIM_COST * groups.size + take.length + FLUSH_COST * (HOOK_CONCURRENCY + groups.size) > D1_STATEMENTS) {
        waiting.unshift(...take);
        break;
      }
      budget.used += CLAIM_COST * groups.size;
      await Promise.all([...groups].map(async ([shard, keys]) => {
        const now = Date.now();
        try {
          const claimed = await claimTasks(shard.db, keys, now, cfg.SWEEP_GRACE * 1000, budgetEnd - now);
          const got = new Set(claimed.map((t) => t.id));
          notClaimed.push(...keys.filter((k) => !got.has(k.id)));
          const order = new Map(keys.map((k, i) => [k.id, i])); // in message order, not the table's
          claimed.sort((a, b) => order.get(a.id)! - order.get(b.id)!);
          pool.push(...claimed.map((task) => ({ task, shard, claimedAt: task.updatedAt })));
          bigBodies = claimed.some((t) => t.body == null && !!t.bodyBytes);
        } catch (err) {
          // A database that fails to claim fails alone: its tasks come back (queue retry), the others run.
          console.error(`claim failed in ${shard.binding}`, err);
          // The rest of this database's tasks are not tried again in this invocation either.
          for (const k of [...keys, ...waiting.filter((w) => shardOf(w) === shard)]) claimFailed.add(k.id);
          waiting.splice(0, waiting.length, ...waiting.filter((w) => !claimFailed.has(w.id)));
        }
      }));
      if (pool.length === 0) continue;
    }
    lastStart = Date.now();
    for (const [shard, group] of byShard(pool.splice(0, free), (c) => c.shard)) {
      const of = new Map(group.map((c) => [c.task.id, c]));
      // A destination whose circuit is open holds its tasks back first; flows then pace the rest.
      const open = await circuits.check(group.map((c) => c.task));
      holdBack(shard, open.held);
      const { go, held } = await flows.admit(open.go, cfg.SWEEP_GRACE * 1000);
      holdBack(shard, held);
      // A task its flow lets start on a slot up to SOON_MS away keeps its hook slot until then.
      for (const { task, startAt, release } of go) run(of.get(task.id)!, startAt, release);
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
