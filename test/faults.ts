// Fault injection for platform bindings (not Torque's code): a D1 database whose statements fail
// when a predicate on their SQL says so (or commit and lose their answer, or wait in line), and a
// queue whose sends fail. Everything else passes through to the real local D1 and queue.
import { env } from 'cloudflare:workers';

export const injected = () => new Error('D1_ERROR: injected fault: storage unavailable');

/** A D1 database whose statements (and batches) matching `matches` go through `guard`; the rest pass through. */
export function guardedD1(real: D1Database, matches: (sql: string) => boolean, guard: <T>(run: () => Promise<T>) => Promise<T>): D1Database {
  const unwrap = new WeakMap<object, D1PreparedStatement>();
  const sqlOf = new WeakMap<object, string>();
  const wrap = (stmt: D1PreparedStatement, sql: string): D1PreparedStatement => {
    const through = <T>(run: () => Promise<T>) => (matches(sql) ? guard(run) : run());
    const w = {
      bind: (...v: unknown[]) => wrap(stmt.bind(...v), sql),
      all: () => through(() => stmt.all()),
      run: () => through(() => stmt.run()),
      first: (col?: string) => through(() => (col ? stmt.first(col) : stmt.first())),
      raw: (opts?: { columnNames?: boolean }) => through(() => stmt.raw(opts as never)),
    } as unknown as D1PreparedStatement;
    unwrap.set(w, stmt);
    sqlOf.set(w, sql);
    return w;
  };
  return {
    prepare: (sql: string) => wrap(real.prepare(sql), sql),
    batch: (stmts: D1PreparedStatement[]) => {
      const run = () => real.batch(stmts.map((s) => unwrap.get(s) ?? s));
      return stmts.some((s) => matches(sqlOf.get(s) ?? '')) ? guard(run) : run();
    },
    exec: (sql: string) => real.exec(sql),
  } as unknown as D1Database;
}

export function faultyD1(fail: (sql: string) => boolean, real: D1Database = env.DB, error: () => Error = injected): D1Database {
  return guardedD1(real, fail, () => Promise.reject(error()));
}

/**
 * A D1 database whose matching statements run (and commit) but whose answer is lost on the way
 * back, the first `times` times: what a dropped connection after D1's commit looks like.
 */
export function answerLostD1(lose: (sql: string) => boolean, times = 1, real: D1Database = env.DB): D1Database {
  let left = times;
  return guardedD1(real, lose, async (run) => {
    const answer = await run();
    if (left-- > 0) throw new Error('D1_ERROR: Network connection lost.');
    return answer;
  });
}

/**
 * A D1 database whose matching statements (and batches) reach the real one `ms` late, as in a busy
 * database's line; `slowed()` says how many did (so a test sees its predicate still matches).
 */
export function slowD1(matches: (sql: string) => boolean, ms: number, real: D1Database = env.DB): D1Database & { slowed: () => number } {
  let n = 0;
  const db = guardedD1(real, matches, async (run) => {
    n++;
    await new Promise((r) => setTimeout(r, ms));
    return run();
  });
  return Object.assign(db, { slowed: () => n });
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
