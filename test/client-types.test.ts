// The TypeScript client's types (client/types.ts) against the API's own /openapi.json: every schema
// the client mirrors has the same fields, each optional or required and nullable or not alike. A
// field added to, dropped from or changed in the API fails here until the client follows.
import { describe, expect, it } from 'vitest';
import source from '../client/types.ts?raw';
import { call } from './helpers';

type Field = { optional: boolean; nullable: boolean };

/** `export interface Name { field?: type | null; ... }` blocks of client/types.ts, one field a line. */
export function interfaces(ts: string): Map<string, Map<string, Field>> {
  const out = new Map<string, Map<string, Field>>();
  for (const m of ts.matchAll(/^export interface (\w+)(?: extends \w+)? \{\n([\s\S]*?)^\}/gm)) {
    const fields = new Map<string, Field>();
    for (const line of m[2].split('\n')) {
      const f = /^ {2}(\w+)(\??): (.*);$/.exec(line);
      if (f) fields.set(f[1], { optional: f[2] === '?', nullable: /\| null\b/.test(f[3].replace(/\{.*\}/, '')) });
    }
    out.set(m[1], fields);
  }
  return out;
}

type Prop = { type?: string | string[]; anyOf?: { type?: string }[]; oneOf?: { type?: string }[] };
type Schema = { properties?: Record<string, Prop>; required?: string[] };
const nullable = (p: Prop) =>
  (Array.isArray(p.type) && p.type.includes('null')) || !![...(p.anyOf ?? []), ...(p.oneOf ?? [])].some((a) => a.type === 'null');

/** The API's schema in the client's terms (an extension, allOf [$ref, own], by its own fields, as the client's `extends`). */
function fromSchema(schema: Schema & { allOf?: Schema[] }): Map<string, Field> {
  const s = schema.allOf?.find((part) => part.properties) ?? schema;
  return new Map(Object.entries(s.properties ?? {}).map(([k, p]) => [k, { optional: !(s.required ?? []).includes(k), nullable: nullable(p) }]));
}

// Client-only conveniences, not fields of the API: a batch item's body may be bytes (sent as
// body_base64), which the field list already has.
const MIRRORED = ['Task', 'TaskWithBody', 'Attempt', 'Stats', 'BatchItem', 'FlowLimits', 'Flow', 'Circuit', 'Topic', 'ScheduleInput', 'Schedule', 'ScheduleDetail', 'SchedulePatch', 'CallbackBody'];

describe('client/types.ts', () => {
  it('reads the interfaces it compares', () => {
    const parsed = interfaces('export interface A {\n  a: string;\n  b?: number | null;\n  c: { d: string | null };\n}\n');
    expect([...parsed.get('A')!]).toEqual([['a', { optional: false, nullable: false }], ['b', { optional: true, nullable: true }], ['c', { optional: false, nullable: false }]]);
  });

  it('mirrors every schema of /openapi.json it covers, field by field', async () => {
    const doc = (await (await call('/openapi.json')).json()) as { components: { schemas: Record<string, Schema> } };
    const client = interfaces(source);
    for (const name of MIRRORED) {
      expect(doc.components.schemas[name], `the API has a ${name} schema`).toBeDefined();
      expect(client.get(name), `client/types.ts has interface ${name}`).toBeDefined();
      const api = fromSchema(doc.components.schemas[name]);
      expect(Object.fromEntries(client.get(name)!), name).toEqual(Object.fromEntries(api));
    }
  });
});
