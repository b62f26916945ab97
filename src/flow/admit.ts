import type { Config } from '../config';
import { hostOf } from './breaker';
import type { DB } from '../store';
import { flowsOf } from '../store/flows';
import type { TaskRow } from '../store/schema';
import { BUSY_RECHECK_MS, PAUSED_RECHECK_MS, type Admission, type Limits } from './gate';

// Which claimed tasks may start now. A task that names a flow with limits (or, when the deployment
// sets DEFAULT_HOST_RATE / DEFAULT_HOST_PARALLELISM, any task without a flow, per destination host)
// asks the flow's Durable Object; everything else starts without asking anyone. A task held back
// is not a failure: it goes back to waiting with its attempt count unchanged (see unclaimTasks),
// due when its flow should let it go.

export interface Admitted {
  task: TaskRow;
  /** When the attempt may start: now, or its rate slot (at most SOON_MS away). */
  startAt: number;
  /** Frees the task's parallelism slot once its attempt ended (nothing to free without a limit). */
  release: () => Promise<void>;
}

const nothing = async () => {};

/** The per-invocation view of flows: limits read once per key, gates reached through env. */
export function flowControl(env: Env, cfg: Config, home: DB) {
  const known = new Map<string, Limits | null>();
  // Flows' retry policies, for their tasks that have none of their own: set on the claimed task
  // itself (the object the consumer's attempt and its outcome use), never stored on the row.
  const policies = new Map<string, string>();
  const withPolicy = (t: TaskRow): TaskRow => {
    const policy = !t.retryPolicy && t.flowKey ? policies.get(`flow\n${t.appId}\n${t.flowKey}`) : undefined;
    if (policy) t.retryPolicy = policy;
    return t;
  };
  const hostLimits: Limits | null = cfg.DEFAULT_HOST_RATE || cfg.DEFAULT_HOST_PARALLELISM
    ? { rate: cfg.DEFAULT_HOST_RATE?.rate ?? null, periodMs: cfg.DEFAULT_HOST_RATE?.periodMs ?? 1000, parallelism: cfg.DEFAULT_HOST_PARALLELISM, paused: false }
    : null;
  // A flow's gate is per app; a host's (deployment defaults) is shared by every app calling it.
  const gateOf = (t: TaskRow) => (t.flowKey ? `flow\n${t.appId}\n${t.flowKey}` : hostLimits ? `host\n${hostOf(t.url)}` : null);

  async function limitsOf(tasks: TaskRow[]) {
    const missing = [...new Map(tasks.filter((t) => t.flowKey && !known.has(`flow\n${t.appId}\n${t.flowKey}`)).map((t) => [`${t.appId}\n${t.flowKey}`, { app: t.appId, key: t.flowKey! }])).values()];
    for (const m of missing) known.set(`flow\n${m.app}\n${m.key}`, null);
    for (const f of await flowsOf(home, missing)) {
      if (f.retryPolicy) policies.set(`flow\n${f.appId}\n${f.key}`, f.retryPolicy);
      const limited = f.rate != null || f.parallelism != null || f.paused;
      known.set(`flow\n${f.appId}\n${f.key}`, limited ? { rate: f.rate, periodMs: f.period * 1000, parallelism: f.parallelism, paused: f.paused } : null);
    }
  }

  return {
    /** Splits claimed tasks into those that start now and those held back (with when to look again). */
    async admit(claimed: TaskRow[], graceMs: number, now = Date.now()): Promise<{ go: Admitted[]; held: { task: TaskRow; dueAt: number }[] }> {
      const go: Admitted[] = [];
      const held: { task: TaskRow; dueAt: number }[] = [];
      const gated = new Map<string, TaskRow[]>();
      for (const t of claimed) {
        const gate = gateOf(t);
        if (gate) gated.get(gate)?.push(t) ?? gated.set(gate, [t]);
        else go.push({ task: t, startAt: now, release: nothing });
      }
      if (gated.size === 0) return { go, held };
      await limitsOf(claimed);
      await Promise.all([...gated].map(async ([gate, tasks]) => {
        const limits = gate.startsWith('flow\n') ? known.get(gate) : hostLimits;
        if (!limits) return go.push(...tasks.map((task) => ({ task: withPolicy(task), startAt: now, release: nothing })));
        const stub = env.FLOW_GATES.get(env.FLOW_GATES.idFromName(gate));
        let answer: Admission;
        try {
          // A slot is held as long as the claim's lease (the attempt's timeout plus the grace): a
          // dead invocation frees it then, as the sweeper frees its tasks.
          const leaseMs = Math.max(...tasks.map((t) => t.timeout)) * 1000 + graceMs;
          answer = await stub.admit(limits, tasks.map((t) => t.id), leaseMs);
        } catch (err) {
          // The gate cannot be asked: nothing of this flow starts (its limits would not hold).
          console.error(`flow gate ${gate.replace(/\n/g, ' ')} unavailable`, err);
          answer = { granted: [], later: tasks.map((t) => ({ id: t.id, at: now + PAUSED_RECHECK_MS, promised: false })) };
        }
        const byId = new Map(tasks.map((t) => [t.id, t]));
        for (const { id, lease, at } of answer.granted) {
          const release = async () => {
            try {
              await stub.release([lease]);
            } catch {
              // The slot lapses with the lease (the attempt's timeout) instead.
            }
          };
          go.push({ task: withPolicy(byId.get(id)!), startAt: at, release: limits.parallelism == null ? nothing : release });
        }
        answer.later.forEach(({ id, at, promised }, j) => {
          // A task promised a rate slot comes back in the second before it (Queues delays by whole
          // seconds) and then starts on time; tasks waiting for a busy flow come back in turn.
          const turn = promised || limits.paused ? 0 : Math.floor(j / (limits.parallelism ?? 1)) * BUSY_RECHECK_MS;
          held.push({ task: byId.get(id)!, dueAt: promised ? at - 1000 : at + turn });
        });
      }));
      return { go, held };
    },
  };
}
