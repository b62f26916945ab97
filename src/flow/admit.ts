import type { Config } from '../config';
import { hostOf } from './breaker';
import type { DB } from '../store';
import { flowsOf } from '../store/flows';
import type { TaskRow } from '../store/schema';
import { BUSY_RECHECK_MS, PAUSED_RECHECK_MS, type Admission, type Limits } from './gate';

// Which claimed tasks may start now. A task that names a flow with limits asks the flow's Durable
// Object and, when the deployment sets DEFAULT_HOST_RATE / DEFAULT_HOST_PARALLELISM, every task
// also asks its app's gate for its destination host (both limits hold); everything else starts
// without asking anyone. A task held back
// is not a failure: it goes back to waiting with its attempt count unchanged (see unclaimTasks),
// due when its flow should let it go.

export interface Admitted {
  task: TaskRow;
  /** When the attempt may start: now, or its rate slot (at most SOON_MS away). */
  startAt: number;
  /** startAt is a rate slot: the attempt starts on it or not at all (see PACED_LATE_MS). */
  paced: boolean;
  /** Frees the task's parallelism slot once its attempt ended (nothing to free without a limit). */
  release: () => Promise<void>;
}

const nothing = async () => {};

type Held = { task: TaskRow; dueAt: number };

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
  // Gates are per app: one tenant's tasks never wait for another's slots. A task passes its flow's
  // gate (if it names a flow with limits), then its host's (if the deployment sets host defaults):
  // a flow key narrows what the host default allows, it never escapes it.
  const flowGate = (t: TaskRow) => (t.flowKey ? `flow\n${t.appId}\n${t.flowKey}` : null);
  const hostGate = (t: TaskRow) => (hostLimits ? `host\n${t.appId}\n${hostOf(t.url)}` : null);

  async function limitsOf(tasks: TaskRow[]) {
    const missing = [...new Map(tasks.filter((t) => t.flowKey && !known.has(`flow\n${t.appId}\n${t.flowKey}`)).map((t) => [`${t.appId}\n${t.flowKey}`, { appId: t.appId, key: t.flowKey! }])).values()];
    if (missing.length === 0) return;
    // Marked known only once read: a read that fails must not leave its flows looking unlimited
    // for the rest of the invocation (the admission fails and its tasks go back instead).
    const found = await flowsOf(home, missing);
    for (const m of missing) known.set(`flow\n${m.appId}\n${m.key}`, null);
    for (const f of found) {
      if (f.retryPolicy) policies.set(`flow\n${f.appId}\n${f.key}`, f.retryPolicy);
      const limited = f.rate != null || f.parallelism != null || f.paused;
      known.set(`flow\n${f.appId}\n${f.key}`, limited ? { rate: f.rate, periodMs: f.period * 1000, parallelism: f.parallelism, paused: f.paused } : null);
    }
  }

  /** One stage of admission: each task asks its gate (if it has one with limits). */
  async function pass(tasks: TaskRow[], gateOf: (t: TaskRow) => string | null, limitsOfGate: (gate: string) => Limits | null | undefined, graceMs: number, now: number) {
    const go: Admitted[] = [];
    const held: Held[] = [];
    const gated = new Map<string, TaskRow[]>();
    for (const t of tasks) {
      const gate = gateOf(t);
      const limits = gate && limitsOfGate(gate);
      if (gate && limits) gated.get(gate)?.push(t) ?? gated.set(gate, [t]);
      else go.push({ task: t, startAt: now, paced: false, release: nothing });
    }
    await Promise.all([...gated].map(async ([gate, tasks]) => {
      const limits = limitsOfGate(gate)!;
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
        go.push({ task: byId.get(id)!, startAt: at, paced: limits.rate != null, release: limits.parallelism == null ? nothing : release });
      }
      answer.later.forEach(({ id, at, promised }, j) => {
        // A task promised a rate slot comes back in the second before it (Queues delays by whole
        // seconds) and then starts on time; tasks waiting for a busy flow come back in turn.
        const turn = promised || limits.paused ? 0 : Math.floor(j / (limits.parallelism ?? 1)) * BUSY_RECHECK_MS;
        held.push({ task: byId.get(id)!, dueAt: promised ? at - 1000 : at + turn });
      });
    }));
    return { go, held };
  }

  return {
    /** Splits claimed tasks into those that start now and those held back (with when to look again). */
    async admit(claimed: TaskRow[], graceMs: number, now = Date.now()): Promise<{ go: Admitted[]; held: Held[] }> {
      await limitsOf(claimed);
      // The flow's retry policy rides on the task object the attempt uses (never stored on its row).
      const withPolicies = (r: { go: Admitted[]; held: Held[] }) => ({ go: r.go.map((a) => ({ ...a, task: withPolicy(a.task) })), held: r.held });
      const flows = await pass(claimed, flowGate, (gate) => known.get(gate), graceMs, now);
      if (!hostLimits) return withPolicies(flows);
      const hosts = await pass(flows.go.map((a) => a.task), hostGate, () => hostLimits, graceMs, now);
      const first = new Map(flows.go.map((a) => [a.task.id, a]));
      // Held at its host: the slot its flow gave it goes back (a rate slot stays spent, slowing
      // only its own flow, never past its limit).
      for (const h of hosts.held) void first.get(h.task.id)!.release();
      const go = hosts.go.map((a) => {
        const f = first.get(a.task.id)!;
        return { task: a.task, startAt: Math.max(a.startAt, f.startAt), paced: a.paced || f.paced, release: async () => void (await Promise.all([a.release(), f.release()])) };
      });
      return withPolicies({ go, held: [...flows.held, ...hosts.held] });
    },
  };
}
