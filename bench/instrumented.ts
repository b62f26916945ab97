// Bench-only entry: Torque's own handlers with the D1 and Queue bindings wrapped to count what
// they cost, from D1's own result metadata (rows_read, rows_written) and the messages sent.
// GET /__bench/counters reads the totals; POST resets them. Never deployed.
import torque from '../src';
import type { TaskMessage } from '../src/tasks/nudge';

const counters = { d1Calls: 0, d1Statements: 0, rowsRead: 0, rowsWritten: 0, messagesSent: 0, invocations: 0 };
type Meta = { meta?: { rows_read?: number; rows_written?: number } };
const tally = (r: Meta) => {
  counters.d1Statements++;
  counters.rowsRead += r.meta?.rows_read ?? 0;
  counters.rowsWritten += r.meta?.rows_written ?? 0;
};

const real = new WeakMap<object, D1PreparedStatement>();
function wrapStatement(stmt: D1PreparedStatement): D1PreparedStatement {
  const wrapped = {
    bind: (...values: unknown[]) => wrapStatement(stmt.bind(...values)),
    async all() {
      counters.d1Calls++;
      const r = await stmt.all();
      tally(r);
      return r;
    },
    async run() {
      counters.d1Calls++;
      const r = await stmt.run();
      tally(r);
      return r;
    },
    async first(col?: string) {
      counters.d1Calls++;
      const r = await stmt.all();
      tally(r);
      const row = (r.results[0] ?? null) as Record<string, unknown> | null;
      return col ? (row?.[col] ?? null) : row;
    },
    // raw() carries no metadata; read through all() (drizzle selects one table, so column
    // names are unique and Object.values keeps their order).
    async raw() {
      counters.d1Calls++;
      const r = await stmt.all();
      tally(r);
      return r.results.map((row) => Object.values(row as object));
    },
  } as unknown as D1PreparedStatement;
  real.set(wrapped, stmt);
  return wrapped;
}

function wrapD1(db: D1Database): D1Database {
  return {
    prepare: (sql: string) => wrapStatement(db.prepare(sql)),
    async batch(statements: D1PreparedStatement[]) {
      counters.d1Calls++;
      const results = await db.batch(statements.map((s) => real.get(s) ?? s));
      results.forEach(tally);
      return results;
    },
    exec: (sql: string) => db.exec(sql),
    dump: () => db.dump(),
    withSession: () => {
      throw new Error('not used');
    },
  } as unknown as D1Database;
}

function wrapQueue(q: Queue): Queue {
  return {
    async send(body: unknown, opts?: QueueSendOptions) {
      counters.messagesSent++;
      return q.send(body, opts);
    },
    async sendBatch(messages: Iterable<MessageSendRequest>, opts?: QueueSendBatchOptions) {
      const list = [...messages];
      counters.messagesSent += list.length;
      return q.sendBatch(list, opts);
    },
  } as Queue;
}

// One wrapped env per real env, so Torque's per-env config cache keeps working.
const envs = new WeakMap<object, Env>();
const wrap = (env: Env) => {
  let w = envs.get(env);
  if (!w) envs.set(env, (w = { ...env, DB: wrapD1(env.DB), TASKS: wrapQueue(env.TASKS), TASKS_BULK: wrapQueue(env.TASKS_BULK) }));
  return w;
};

export default {
  async fetch(req, env, ctx) {
    if (new URL(req.url).pathname === '/__bench/counters') {
      const out = Response.json({ ...counters });
      if (req.method === 'POST') for (const k of Object.keys(counters) as (keyof typeof counters)[]) counters[k] = 0;
      return out;
    }
    counters.invocations++;
    return torque.fetch(req, wrap(env), ctx);
  },
  async queue(batch, env) {
    counters.invocations++;
    return torque.queue(batch, wrap(env));
  },
  async scheduled(controller, env) {
    counters.invocations++;
    return torque.scheduled(controller, wrap(env));
  },
} satisfies ExportedHandler<Env, TaskMessage>;
