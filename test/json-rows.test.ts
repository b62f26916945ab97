// src/store/json-rows.ts: rows encoded in JS come back from real local D1 exactly as they went in,
// through both SQL sides (the subquery `from` and the per-field `get`), awkward values included.
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { asFields, joinRows, jsonRows, selectAs } from '../src/store/json-rows';
import { circuits, flows } from '../src/store/schema';

const ROWS = jsonRows({ id: 'text', attempts: 'integer', due: 'integer?', note: 'text?', ids: 'json?' });
type Row = { id: string; attempts: number; due?: number | null; note?: string | null; ids?: string[] | null };

const AWKWARD: Row[] = [
  { id: 'plain', attempts: 0, due: 1_760_000_000_000, note: 'ok', ids: ['a', 'b'] },
  { id: `it's "quoted" \\ back\\slashed`, attempts: 1, due: null, note: "'; DROP TABLE tasks; --", ids: null },
  { id: 'ünïcödé ✓ 日本 🚀', attempts: -7, due: Number.MAX_SAFE_INTEGER, note: '\n\t\u0000 control', ids: ['ü', '"'] },
  { id: 'big', attempts: Number.MIN_SAFE_INTEGER, due: 0, note: '', ids: [] },
  { id: 'left out', attempts: 2 }, // nullable fields may be absent: they arrive as NULL
];
const expected = (r: Row) => ({ ...r, due: r.due ?? null, note: r.note ?? null, ids: r.ids == null ? null : JSON.stringify(r.ids) });

describe('json-rows', () => {
  it('round-trips rows through from(): every value, in order, with its SQL type', async () => {
    const { results } = await env.DB.prepare(`SELECT r.*, typeof(r.attempts) AS ta, typeof(r.due) AS td FROM ${ROWS.from('?1')} AS r`)
      .bind(ROWS.encode(AWKWARD)).all<Record<string, unknown>>();
    expect(results.map(({ ta, td, ...r }) => r)).toEqual(AWKWARD.map(expected));
    expect(results.map((r) => r.ta)).toEqual(AWKWARD.map(() => 'integer'));
    expect(results.map((r) => r.td)).toEqual(AWKWARD.map((r) => (r.due == null ? 'null' : 'integer')));
  });

  it('get() reads the same fields straight from json_each, and rows encoded one by one join into the same parameter', async () => {
    const one = joinRows(AWKWARD.map(ROWS.row));
    expect(one).toBe(ROWS.encode(AWKWARD));
    const { results } = await env.DB.prepare(`SELECT ${ROWS.fields.map((f) => `${ROWS.get(f)} AS ${f}`).join(', ')} FROM json_each(?1)`)
      .bind(one).all();
    expect(results).toEqual(AWKWARD.map(expected));
  });

  it('an empty list is no rows', async () => {
    expect(ROWS.encode([])).toBe('[]');
    const { results } = await env.DB.prepare(`SELECT * FROM ${ROWS.from('?1')}`).bind(ROWS.encode([])).all();
    expect(results).toEqual([]);
  });

  it('travels as arrays of values: no field names in the parameter', () => {
    expect(ROWS.encode([{ id: 'x', attempts: 1 }])).toBe('[["x",1,null,null,null]]');
  });

  it('aliases come from the schema: selectAs names columns as drizzle fields, asFields maps raw rows back', async () => {
    expect(selectAs(circuits, { omit: ['held'] })).toBe('app_id AS appId, destination, state, failures, since, probe_at AS probeAt, interval_ms AS intervalMs');
    expect(selectAs(flows, { qualify: 'f', pick: ['appId', 'key'] })).toBe('f.app_id AS appId, f.key');
    const row = await env.DB.prepare(`SELECT 'a' AS app_id, 'k' AS key, 5 AS updated_at, 1 AS other`).first<Record<string, unknown>>();
    expect(asFields(flows)(row!)).toEqual({ appId: 'a', key: 'k', updatedAt: 5, other: 1 });
  });
});
