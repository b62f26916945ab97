import type { TaskRow } from '../store/schema';
import { getConfig } from '../config';
import { flowControl } from '../flow/admit';
import { breakers } from '../flow/breaker';
import { openShards, type Shard } from '../store/shards';
import type { TaskKey } from '../store/tasks';
import { sendTaskMessagesBestEffort, type TaskMessage } from '../tasks/queue-messages';
import { claims } from './claims';
import { connections, throughBudget } from './connections';
import { holdBacks } from './hold-back';
import { byShard, idsOf, settleUnclaimed } from './messages';
import { outcomeLog } from './outcome-log';
import { HOOK_CONCURRENCY, slotPool } from './slots';
import { startAttempt, type StartDeps } from './start';
import { statementBudget } from './statements';
import { CLAIM_STATEMENTS } from '../store/claim';
import { currentKeyLookup } from '../store/qstash-keys';
import { RETRY_AFTER_S } from '../store/errors';

export type { TaskMessage };
export { HOOK_CONCURRENCY };
export { MAX_IDS_PER_INVOCATION } from './messages';

/**
 * Runs a batch without head-of-line blocking, as a loop of named steps: check the pool (claimed
 * tasks that found no slot in time go back), wait for slots, claim what the free slots can start
 * (slots.ts sizes it), admit (circuits, then flows), start each attempt on its slot (start.ts),
 * then settle what was not claimed and ack. `in_progress` thus means running or about to, a lease
 * is the task's own timeout plus grace, and a task deleted before its claim is never claimed.
 */
export async function handleQueue(batch: MessageBatch<TaskMessage>, realEnv: Env): Promise<void> {
  const cfg = getConfig(realEnv);
  const shards = openShards(realEnv, cfg);
  const start = Date.now();
  const graceMs = cfg.ms.SWEEP_GRACE;
  // Every outgoing call of this invocation (hooks, queue sends, alerts, flow gates) shares one
  // budget of connections (connections.ts); D1 goes through the bindings as it is.
  const conns = connections();
  const env = throughBudget(realEnv, conns);
  const statements = statementBudget();
  // Ids this invocation gives up (no slot in time, no budget left) go into handBack: sent again.
  const { keys, handBack } = idsOf(batch, shards);
  const shardOf = (k: TaskKey) => shards.of(k.id)!;
  // Grouped by database, so a claim (one statement per database it touches) usually touches one.
  const waiting = [...keys.values()].sort((a, b) => shardOf(a).n - shardOf(b).n);
  const slots = slotPool();
  const held = holdBacks(env, cfg, statements);
  const logs = new Map<Shard, ReturnType<typeof outcomeLog>>();
  const logOf = (s: Shard) => logs.get(s) ?? logs.set(s, outcomeLog(s.db, env, cfg, statements)).get(s)!;
  const flows = flowControl(env, cfg, shards.home.db);
  const circuits = breakers(env, cfg, shards);
  const qstashKey = currentKeyLookup(shards.home.db); // /v2 tasks' signing keys, read when needed
  const notClaimed: TaskKey[] = [];
  const claimFailed = new Set<string>();
  const releasing: Promise<unknown>[] = [];
  const deps: StartDeps = {
    cfg, connections: conns, statements, note: circuits.note, qstashKey,
    record: (c, outcome) => logOf(c.shard).add(outcome),
    holdBack: (c, h) => held.add(c.shard, [h]),
  };
  const claiming = claims(shardOf, { graceMs, budgetEnd: start + cfg.ms.CONSUMER_BUDGET, statements, releasing });
  // Whether the last wave brought a big body (slots.plan): any of its databases counts.
  let bigBodies = false;
  let prefetched = false;

  while (waiting.length || slots.waiting || claiming.pending) {
    // Claimed: each database's tasks join the pool as its claim answers, not when the whole wave
    // has: their start windows run from their own claim, not from the slowest database's.
    const answers = claiming.answered();
    for (const answer of answers) {
      slots.add(answer.claimed);
      notClaimed.push(...answer.notClaimed);
      bigBodies ||= answer.bigBodies;
      // A database that fails to claim fails alone: its tasks come back (the message's retry), and
      // the rest of its tasks are not tried again in this invocation either.
      if (answer.failed) {
        for (const k of [...answer.asked, ...waiting]) if (shardOf(k) === answer.shard) claimFailed.add(k.id);
        waiting.splice(0, waiting.length, ...waiting.filter((w) => !claimFailed.has(w.id)));
      }
    }
    // Check: claimed tasks that found no slot in time go back for another invocation.
    for (const [shard, late] of byShard(slots.stale(), (c) => c.shard)) held.add(shard, late.map((c) => ({ task: c.task, dueAt: Date.now() })));
    const step = await slots.ready(waiting.length, answers.some((a) => a.claimed.length > 0));
    // Giving up waits for a claim that is out to answer and takes its tasks in: they start if a
    // slot frees in time, else go back unstarted (Check); the loop may then claim again.
    if (step === 'give up' && !claiming.pending) break;
    if (step !== 'go') {
      if (step === 'give up') await claiming.next();
      continue;
    }
    if (!slots.waiting) {
      // A claim still out fills the free slots when it answers: claiming more now could bring more
      // than they start in time.
      if (claiming.pending) {
        await claiming.next();
        continue;
      }
      // A failed database's answer may have left nothing to claim.
      if (!waiting.length) continue;
      // Claim: only when the pool is empty, as many as the free slots start now or soon.
      const take = waiting.splice(0, slots.plan(slots.free(), bigBodies));
      const databases = byShard(take, shardOf).size;
      if (!statements.mayClaim(CLAIM_STATEMENTS * databases, take.length, HOOK_CONCURRENCY, databases)) {
        waiting.unshift(...take);
        break;
      }
      // The batch's circuits are read alongside its first claim, not after it (see prefetch).
      if (!prefetched) circuits.prefetch([...new Set([...keys.values()].map((k) => k.appId))]);
      prefetched = true;
      claiming.send(take);
      bigBodies = false;
      continue;
    }
    // Admit and run: a destination whose circuit is open holds its tasks back first; flows then
    // pace the rest; a task its flow lets start on a slot up to SOON_MS away keeps its slot until then.
    for (const [shard, group] of byShard(slots.take(), (c) => c.shard)) {
      const of = new Map(group.map((c) => [c.task.id, c]));
      let go: Awaited<ReturnType<typeof flows.admit>>['go'];
      // The tasks not yet held back: a task is put back once (a second put-back could meet it
      // claimed again by another invocation, and take that claim from under it).
      let undecided: TaskRow[] = group.map((c) => c.task);
      try {
        const open = await circuits.check(undecided);
        held.add(shard, open.held);
        undecided = open.go;
        const admitted = await flows.admit(open.go, graceMs);
        held.add(shard, admitted.held);
        go = admitted.go;
      } catch (err) {
        // Circuits or flows could not be read (D1, a gate): what is undecided goes back unstarted,
        // its attempts unspent, and the rest of the batch goes on.
        console.error('admitting claimed tasks failed', err);
        held.add(shard, undecided.map((task) => ({ task, dueAt: Date.now() + RETRY_AFTER_S * 1000 })));
        continue;
      }
      for (const { task, startAt, paced, release } of go) {
        slots.occupy(() => startAttempt(of.get(task.id)!, { startAt, paced }, deps).catch((err) => console.error(`task ${task.id}: its attempt failed to run`, err)).then(release));
      }
    }
  }
  // Settle: what was never claimed goes back, or waits for its due time; then everything is written.
  for (const k of waiting) handBack.set(k.id, k);
  const settled = Promise.all([...byShard(notClaimed, shardOf)].map(([shard, keys]) =>
    settleUnclaimed(shard.db, env, keys, start, handBack).catch((err) => console.error('unclaimed follow-up failed', err))));
  await slots.drain();
  await Promise.all([...logs.values()].map((log) => log.flush()));
  await held.settled();
  await circuits.flush();
  await settled;
  await Promise.all(releasing);
  await sendTaskMessagesBestEffort(env, [...handBack.values()].map((k) => ({ ...k, dueAt: start })));
  ack(batch, claimFailed);
}

/** Acks every message, except those naming tasks a database could not claim: they come back in a moment. */
function ack(batch: MessageBatch<TaskMessage>, claimFailed: Set<string>): void {
  if (claimFailed.size === 0) return batch.ackAll();
  const failed = (m: Message<TaskMessage>) => Array.isArray(m.body?.ids) && m.body.ids.some((id) => claimFailed.has(id));
  if (batch.messages.every(failed)) return batch.retryAll({ delaySeconds: 5 });
  for (const m of batch.messages) (failed(m) ? m.retry({ delaySeconds: 5 }) : m.ack());
}
