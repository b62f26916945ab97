// A D1 binding that sees every statement Torque prepares and every set of values it binds, then
// passes everything through to the real local D1. Used to enforce D1's real limits
// (d1-limits.ts) and to record what Torque actually sends (query-plans.test.ts).
export function watchedD1(real: D1Database, watch: { prepare?: (sql: string) => void; bind?: (sql: string, values: unknown[]) => void }): D1Database {
  const unwrap = new WeakMap<object, D1PreparedStatement>();
  const wrap = (stmt: D1PreparedStatement, sql: string): D1PreparedStatement => {
    const w = new Proxy(stmt, {
      get(target, prop) {
        if (prop === 'bind') return (...v: unknown[]) => (watch.bind?.(sql, v), wrap(target.bind(...v), sql));
        const value = Reflect.get(target, prop);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    unwrap.set(w, stmt);
    return w;
  };
  return new Proxy(real, {
    get(target, prop) {
      if (prop === 'prepare') return (sql: string) => (watch.prepare?.(sql), wrap(target.prepare(sql), sql));
      if (prop === 'batch') return (stmts: D1PreparedStatement[]) => target.batch(stmts.map((s) => unwrap.get(s) ?? s));
      const value = Reflect.get(target, prop);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
