// How the capacity model spreads one queue's messages over concurrent consumer invocations.
//
// Miniflare runs one consumer per local queue, one batch at a time (it starts a second only when a
// full batch is waiting), so the model gives each queue K lanes (K local queues, capacity.ts) and
// decides which lane a message goes to. The rule follows Cloudflare's own, "Consumer concurrency"
// (https://developers.cloudflare.com/queues/configuration/consumer-concurrency/): after each batch,
// Queues adjusts the number of concurrent consumers from the backlog and its rate of growth,
// optimising for a backlog that does not grow; e.g. 100 messages/s into a consumer that takes 5 s
// per batch of 100 settles at about 5 concurrent invocations. So concurrency is what the backlog
// needs, no more: a consumer that keeps up stays alone, and batches are sized by
// `max_batch_size` / `max_batch_timeout` (wrangler.toml: 100 messages or 1 s).
//
// Here: a message goes to the first lane that does not yet have a full batch (`max_batch_size`)
// waiting; the next lane gets messages only while every lane before it already has a full batch
// waiting, that is while the backlog grows faster than the running invocations take it. An extra
// invocation thus starts only with a full batch, and lanes past what the load needs stay idle.
// (The model used to deal messages to 16 lanes in turn: 16 invocations whatever the load, each
// with a sixteenth of the messages, which Queues does not do.)

/** A queue of the capacity model: binding, local queue name prefix, and the consumer's max_batch_size. */
export type LanedQueue = { binding: string; queue: string; batchSize: number };

/**
 * The capacity model's queues: TASKS and TASKS_BULK, as wrangler.toml declares them, and with
 * `perDatabase` a TASKS_k per database DB_k beyond DB (docs/scaling.md's optional step), each with
 * torque-tasks' settings and lanes of its own, as Queues scales each queue on its own.
 */
export function lanedQueues(databases = 1, perDatabase = false): LanedQueue[] {
  return [
    { binding: 'TASKS', queue: 'torque-tasks', batchSize: 100 },
    ...Array.from({ length: perDatabase ? databases - 1 : 0 }, (_, i) => ({ binding: `TASKS_${i + 1}`, queue: `torque-tasks-db${i + 1}`, batchSize: 100 })),
    { binding: 'TASKS_BULK', queue: 'torque-bulk', batchSize: 1 },
  ];
}

/** A lane's local queue name: lane 0 of torque-tasks is torque-tasks-0. */
export const laneQueue = (queue: string, k: number) => `${queue}-${k}`;

/** One queue's lanes: which lane a send goes to, and what each has waiting (sent, not yet delivered). */
export function laneRouter(lanes: number, batchSize: number) {
  const waiting = Array.from({ length: lanes }, () => 0);
  let busiest = 0; // the highest lane used so far (how far concurrency grew)
  return {
    /** The lane for `n` messages due in `delaySeconds` (counted as waiting once they are due). */
    pick(n: number, delaySeconds = 0): number {
      let k = waiting.findIndex((w) => w < batchSize);
      // Every lane has a full batch waiting: the least loaded takes it (the model's cap on concurrency).
      if (k < 0) k = waiting.indexOf(Math.min(...waiting));
      busiest = Math.max(busiest, k);
      if (delaySeconds > 0) setTimeout(() => (waiting[k] += n), delaySeconds * 1000);
      else waiting[k] += n;
      return k;
    },
    /** A consumer invocation of lane `k` got `n` messages. */
    delivered(k: number, n: number): void {
      waiting[k] = Math.max(0, waiting[k] - n);
    },
    get lanesUsed() {
      return busiest + 1;
    },
  };
}
