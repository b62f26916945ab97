// Bench-only entry: Torque's own handlers with the D1 and Queue bindings wrapped to count what
// they cost, from D1's own result metadata (rows_read, rows_written) and the messages sent.
// GET /__bench/counters reads the totals; POST resets them. Never deployed.
// With BENCH_D1_SERVICE_MS set, each D1 database is modelled as what it is in production: one
// single-threaded server, running one statement at a time, each taking that long; with
// BENCH_D1_LATENCY_MS, every call to it also takes that round trip (production D1 is a network hop away).
import torque from '../src';
import type { TaskMessage } from '../src/tasks/queue-messages';
import { type LanedQueue, lanedQueues, laneRouter } from './lanes';

export { FlowGate } from '../src';

// d1Ms: time spent waiting on D1 calls (summed over calls, so concurrent calls each count).
const counters = { d1Calls: 0, d1Ms: 0, d1MaxMs: 0, d1Statements: 0, rowsRead: 0, rowsWritten: 0, messagesSent: 0, invocations: 0, gateRequests: 0 };
// Per statement (its SQL's first words): how often it ran and the rows it read and wrote.
const bySql = new Map<string, { n: number; read: number; written: number }>();

/** Counts requests to the flows' Durable Objects (each admit or release is one). */
function wrapGates(ns: Env['FLOW_GATES']): Env['FLOW_GATES'] {
  return {
    idFromName: (name: string) => ns.idFromName(name),
    get(id: DurableObjectId) {
      const stub = ns.get(id);
      return {
        admit: (...a: Parameters<typeof stub.admit>) => (counters.gateRequests++, stub.admit(...a)),
        release: (...a: Parameters<typeof stub.release>) => (counters.gateRequests++, stub.release(...a)),
        state: (...a: Parameters<typeof stub.state>) => stub.state(...a),
      };
    },
  } as unknown as Env['FLOW_GATES'];
}
type Meta = { meta?: { rows_read?: number; rows_written?: number } };
const tally = (r: Meta, sql: string) => {
  counters.d1Statements++;
  counters.rowsRead += r.meta?.rows_read ?? 0;
  counters.rowsWritten += r.meta?.rows_written ?? 0;
  const key = sql.replace(/\s+/g, ' ').trim().slice(0, 90);
  const s = bySql.get(key) ?? bySql.set(key, { n: 0, read: 0, written: 0 }).get(key)!;
  s.n++;
  s.read += r.meta?.rows_read ?? 0;
  s.written += r.meta?.rows_written ?? 0;
};

const timed = (t0: number) => {
  const ms = performance.now() - t0;
  counters.d1Ms += ms;
  counters.d1MaxMs = Math.max(counters.d1MaxMs, ms);
};

/**
 * One database's turn-taking: calls are served in arrival order, one at a time, `statements` × the
 * service time each (the real local D1 work then runs at the end of that turn, and is not charged).
 * With a round trip (`latencyMs`), each call (a statement, or a batch: one round trip) also spends
 * half of it on the way there and half on the way back, without holding the database.
 *
 * The line is a clock (when the database is next free), and each call waits on a timer of its own:
 * not on a chain of promises that other requests resolve. workerd takes a request that waits only
 * on another request's promise for one that has hung, and cancels it (a long run hit that).
 */
function server(serviceMs: number, latencyMs = 0) {
  let freeAt = 0;
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  return async <T>(statements: number, work: () => Promise<T>): Promise<T> => {
    if (!serviceMs && !latencyMs) return work();
    if (latencyMs) await sleep(latencyMs / 2);
    const now = Date.now();
    freeAt = Math.max(now, freeAt) + serviceMs * statements;
    if (serviceMs) await sleep(freeAt - now);
    try {
      return await work();
    } finally {
      if (latencyMs) await sleep(latencyMs / 2);
    }
  };
}
type Serve = ReturnType<typeof server>;

const real = new WeakMap<object, D1PreparedStatement>();
const sqlOf = new WeakMap<object, string>();
function wrapStatement(stmt: D1PreparedStatement, serve: Serve, sql: string): D1PreparedStatement {
  const all = () => serve(1, async () => {
    counters.d1Calls++;
    const t0 = performance.now();
    const r = await stmt.all();
    timed(t0);
    tally(r, sql);
    return r;
  });
  const wrapped = {
    bind: (...values: unknown[]) => wrapStatement(stmt.bind(...values), serve, sql),
    all,
    run: all,
    async first(col?: string) {
      const r = await all();
      const row = (r.results[0] ?? null) as Record<string, unknown> | null;
      return col ? (row?.[col] ?? null) : row;
    },
    // raw() carries no metadata; read through all() (drizzle selects one table, so column
    // names are unique and Object.values keeps their order).
    async raw() {
      return (await all()).results.map((row) => Object.values(row as object));
    },
  } as unknown as D1PreparedStatement;
  real.set(wrapped, stmt);
  sqlOf.set(wrapped, sql);
  return wrapped;
}

function wrapD1(db: D1Database, serve: Serve): D1Database {
  return {
    prepare: (sql: string) => wrapStatement(db.prepare(sql), serve, sql),
    batch: (statements: D1PreparedStatement[]) => serve(statements.length, async () => {
      counters.d1Calls++;
      const t0 = performance.now();
      const results = await db.batch(statements.map((s) => real.get(s) ?? s));
      timed(t0);
      results.forEach((r, i) => tally(r, sqlOf.get(statements[i]) ?? '?'));
      return results;
    }),
    exec: (sql: string) => db.exec(sql),
    dump: () => db.dump(),
    withSession: () => {
      throw new Error('not used');
    },
  } as unknown as D1Database;
}

/**
 * Counts messages. With several queues given (the capacity model's lanes), a send goes to the lane
 * its router picks (bench/lanes.ts: concurrency follows the backlog, as Cloudflare Queues scales it).
 */
function wrapQueue(queues: Queue[], router?: ReturnType<typeof laneRouter>): Queue {
  const q = (n: number, delaySeconds?: number) => (router ? queues[router.pick(n, delaySeconds)] : queues[0]);
  return {
    async send(body: unknown, opts?: QueueSendOptions) {
      counters.messagesSent++;
      return q(1, opts?.delaySeconds).send(body, opts);
    },
    async sendBatch(messages: Iterable<MessageSendRequest>, opts?: QueueSendBatchOptions) {
      const list = [...messages];
      counters.messagesSent += list.length;
      // One sendBatch goes to one lane; Torque's batches carry one delay (nudge groups by it).
      return q(list.length, list[0]?.delaySeconds ?? opts?.delaySeconds).sendBatch(list, opts);
    },
  } as Queue;
}
// The queues to count and lay out in lanes: BENCH_QUEUES (JSON, from capacity.ts), else TASKS and TASKS_BULK.
const lanedQueuesOf = (env: Env): LanedQueue[] => {
  const given = (env as unknown as Record<string, string | undefined>).BENCH_QUEUES;
  return given ? (JSON.parse(given) as LanedQueue[]) : lanedQueues();
};
// Per queue (by its binding), its lanes' router: module-wide, as Queues' scaling is per queue.
const routers = new Map<string, ReturnType<typeof laneRouter>>();

// One wrapped env per real env, so Torque's per-env config cache keeps working; one server per
// database, shared by every invocation of this isolate (all of them, under Miniflare).
const envs = new WeakMap<object, Env>();
const servers = new Map<string, Serve>();
const wrap = (env: Env) => {
  let w = envs.get(env);
  if (!w) {
    const serviceMs = Number((env as unknown as Record<string, string>).BENCH_D1_SERVICE_MS ?? 0);
    const latencyMs = Number((env as unknown as Record<string, string>).BENCH_D1_LATENCY_MS ?? 0);
    const dbs = Object.entries(env).filter(([name]) => /^DB(_\d+)?$/.test(name)).map(([name, db]) => {
      if (!servers.has(name)) servers.set(name, server(serviceMs, latencyMs));
      return [name, wrapD1(db as D1Database, servers.get(name)!)];
    });
    const queues = Object.fromEntries(lanedQueuesOf(env).map(({ binding, batchSize }) => {
      const lanes = [(env as unknown as Record<string, Queue>)[binding], ...Object.entries(env).filter(([k]) => k.startsWith(`${binding}_LANE_`)).map(([, v]) => v as Queue)];
      if (lanes.length > 1 && !routers.has(binding)) routers.set(binding, laneRouter(lanes.length, batchSize));
      return [binding, wrapQueue(lanes, routers.get(binding))];
    }));
    w = { ...env, ...Object.fromEntries(dbs), FLOW_GATES: wrapGates(env.FLOW_GATES), ...queues } as Env;
    envs.set(env, w);
  }
  return w;
};

export default {
  async fetch(req, env, ctx) {
    if (new URL(req.url).pathname === '/__bench/counters') {
      const lanesUsed = Object.fromEntries([...routers].map(([binding, r]) => [binding, r.lanesUsed]));
      const out = Response.json({ ...counters, lanesUsed });
      if (req.method === 'POST') {
        for (const k of Object.keys(counters) as (keyof typeof counters)[]) counters[k] = 0;
        bySql.clear();
      }
      return out;
    }
    if (new URL(req.url).pathname === '/__bench/statements') return Response.json(Object.fromEntries(bySql));
    counters.invocations++;
    return torque.fetch(req, wrap(env), ctx);
  },
  async queue(batch, env) {
    counters.invocations++;
    // Which lane this batch came from, so its router knows what is still waiting there.
    for (const { binding, queue } of lanedQueuesOf(env)) {
      const k = Number(batch.queue.slice(queue.length + 1));
      if (batch.queue.startsWith(`${queue}-`) && Number.isInteger(k)) routers.get(binding)?.delivered(k, batch.messages.length);
    }
    return torque.queue(batch, wrap(env));
  },
  async scheduled(controller, env) {
    counters.invocations++;
    return torque.scheduled(controller, wrap(env));
  },
} satisfies ExportedHandler<Env, TaskMessage>;
