// A D1 binding that enforces D1's real per-statement limits, which local D1 does not: at most 100
// bound parameters, 100,000 bytes of SQL, and 2,000,000 bytes per value (a hex- or base64-encoded
// 1 MiB body would break the last one on real D1 while passing locally). Platform wrapper only:
// everything passes through to the real local D1.
import { env } from 'cloudflare:workers';
import { watchedD1 } from './d1-wrap';

export const LIMITS = { params: 100, sqlBytes: 100_000, valueBytes: 2_000_000 };
const bytes = (v: unknown) =>
  typeof v === 'string' ? new TextEncoder().encode(v).length : v instanceof ArrayBuffer || ArrayBuffer.isView(v) ? v.byteLength : 8;

export function check(sql: string, params: unknown[]): void {
  if (new TextEncoder().encode(sql).length > LIMITS.sqlBytes) throw new Error(`D1_ERROR: statement too long (over ${LIMITS.sqlBytes} bytes)`);
  if (params.length > LIMITS.params) throw new Error(`D1_ERROR: too many SQL variables (${params.length} > ${LIMITS.params})`);
  const big = params.find((p) => bytes(p) > LIMITS.valueBytes);
  if (big !== undefined) throw new Error(`D1_ERROR: string or blob too big (${bytes(big)} > ${LIMITS.valueBytes} bytes): SQLITE_TOOBIG`);
}

export function strictD1(real: D1Database = env.DB): D1Database {
  return watchedD1(real, { prepare: (sql) => check(sql, []), bind: check });
}
