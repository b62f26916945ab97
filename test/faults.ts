// Fault injection for platform bindings (not Torque's code): a D1 database whose statements fail
// when a predicate on their SQL says so, and a queue whose sends fail. Everything else passes
// through to the real local D1 and queue.
import { env } from 'cloudflare:workers';

export const injected = () => new Error('D1_ERROR: injected fault: storage unavailable');

export function faultyD1(fail: (sql: string) => boolean, real: D1Database = env.DB, error: () => Error = injected): D1Database {
  const unwrap = new WeakMap<object, D1PreparedStatement>();
  const sqlOf = new WeakMap<object, string>();
  const wrap = (stmt: D1PreparedStatement, sql: string): D1PreparedStatement => {
    const guard = <T>(run: () => Promise<T>) => (fail(sql) ? Promise.reject(error()) : run());
    const w = {
      bind: (...v: unknown[]) => wrap(stmt.bind(...v), sql),
      all: () => guard(() => stmt.all()),
      run: () => guard(() => stmt.run()),
      first: (col?: string) => guard(() => (col ? stmt.first(col) : stmt.first())),
      raw: (opts?: { columnNames?: boolean }) => guard(() => stmt.raw(opts as never)),
    } as unknown as D1PreparedStatement;
    unwrap.set(w, stmt);
    sqlOf.set(w, sql);
    return w;
  };
  return {
    prepare: (sql: string) => wrap(real.prepare(sql), sql),
    batch: (stmts: D1PreparedStatement[]) =>
      stmts.some((s) => fail(sqlOf.get(s) ?? '')) ? Promise.reject(error()) : real.batch(stmts.map((s) => unwrap.get(s) ?? s)),
    exec: (sql: string) => real.exec(sql),
  } as unknown as D1Database;
}

export const failingQueue = {
  send: () => Promise.reject(new Error('Queue send failed: injected fault')),
  sendBatch: () => Promise.reject(new Error('Queue send failed: injected fault')),
} as unknown as Queue;

/** Statement-kind predicates over the SQL Torque sends. */
export const is = {
  insert: (sql: string) => /^\s*insert into "?tasks"?/i.test(sql),
  claim: (sql: string) => /UPDATE tasks SET status = 'in_progress'/.test(sql),
  record: (sql: string) => /UPDATE tasks SET status = o\.status/.test(sql),
  any: () => true,
};
