import { getTableColumns, type Table } from 'drizzle-orm';

// Many rows as ONE bound parameter. D1 binds at most 100 parameters per statement, so a statement
// that addresses or writes many rows takes them as one JSON text, unpacked in SQL by json_each.
// One column map gives both sides, so the order the encoder writes is the order the SQL reads:
// each row travels as an array of its values (no key names: the parameter, held to D1's
// 2,000,000 bytes per value, is the values and little else), and SQL reads field k as '$[k]'.

/** A field's type: `?` allows null (or undefined, sent as null). 'json' is an array or object, read back as its JSON text. */
type Kind = 'text' | 'integer' | 'json';
export type ColumnMap = Record<string, Kind | `${Kind}?`>;
type ValueOf<K> = K extends `${infer B}?` ? ValueOf<B> | null | undefined : K extends 'text' ? string : K extends 'integer' ? number : unknown;
/** A row as the encoder takes it: an object with (at least) the map's fields; nullable ones may be left out. */
export type RowOf<M extends ColumnMap> = { [F in keyof M as M[F] extends `${string}?` ? never : F]: ValueOf<M[F]> } & {
  [F in keyof M as M[F] extends `${string}?` ? F : never]?: ValueOf<M[F]>;
};

/** The row type a JsonRows encodes. */
export type RowIn<J> = J extends JsonRows<infer M> ? RowOf<M> : never;

export interface JsonRows<M extends ColumnMap> {
  /** The fields, in the order each row's array holds them. */
  readonly fields: readonly (keyof M & string)[];
  /** SQL: the rows of JSON parameter `param` (e.g. '?1') as a subquery with one column per field, named as in the map. */
  from(param: string): string;
  /** SQL: the rows as unnamed tuples, for a row-value `(a, b) IN ...` (no aliases: nothing names them). */
  tuples(param: string): string;
  /** SQL: one field of the row that json_each's `value` column (or another expression: `r.value`) holds. */
  get(field: keyof M & string, value?: string): string;
  /** One row as JSON text (rows encoded one by one become the parameter with `joinRows`). */
  row(row: RowOf<M>): string;
  /** Rows as the one JSON text parameter `from` reads. */
  encode(rows: readonly RowOf<M>[]): string;
}

export function jsonRows<const M extends ColumnMap>(map: M): JsonRows<M> {
  const fields = Object.keys(map) as (keyof M & string)[];
  const index = new Map(fields.map((f, k) => [f, k]));
  const get = (field: keyof M & string, value = 'value') => `json_extract(${value},'$[${index.get(field)}]')`;
  const values = (r: RowOf<M>) => fields.map((f) => (r as Record<string, unknown>)[f] ?? null);
  return {
    fields,
    from: (param) => `(SELECT ${fields.map((f) => `${get(f)} AS ${f}`).join(',')} FROM json_each(${param}))`,
    tuples: (param) => `(SELECT ${fields.map((f) => get(f)).join(',')} FROM json_each(${param}))`,
    get,
    row: (r) => JSON.stringify(values(r)),
    encode: (rows) => JSON.stringify(rows.map(values)),
  };
}

/** Rows already encoded one by one (`row`) as one parameter. */
export const joinRows = (rows: readonly string[]) => `[${rows.join(',')}]`;

// Column aliases. Raw SQL reads snake_case columns; callers want the drizzle field names. Both come
// from the table's drizzle definition, so no alias list is kept in step with the schema by hand.

/**
 * SQL: a table's columns as its drizzle fields (`app_id AS appId, destination, ...`), in schema
 * order, optionally qualified (`f.app_id AS appId`) and limited to `pick` or without `omit`.
 */
export function selectAs<T extends Table>(table: T, opts: { qualify?: string; pick?: (keyof T['_']['columns'])[]; omit?: (keyof T['_']['columns'])[] } = {}): string {
  const q = opts.qualify ? `${opts.qualify}.` : '';
  return Object.entries(getTableColumns(table))
    .filter(([field]) => (!opts.pick || opts.pick.includes(field)) && !opts.omit?.includes(field))
    .map(([field, c]) => (c.name === field ? `${q}${c.name}` : `${q}${c.name} AS ${field}`))
    .join(', ');
}

/** A row read with raw SQL (snake_case columns) under the table's drizzle field names; other keys are kept. */
export function asFields<T extends Table>(table: T): (row: Record<string, unknown>) => Record<string, unknown> {
  const fieldOf = new Map(Object.entries(getTableColumns(table)).map(([field, c]) => [c.name, field]));
  return (row) => Object.fromEntries(Object.entries(row).map(([k, v]) => [fieldOf.get(k) ?? k, v]));
}

/** The table's column names with their drizzle fields, in schema order (for building an INSERT's column list). */
export const columnFields = <T extends Table>(table: T) =>
  Object.entries(getTableColumns(table)).map(([field, c]) => ({ name: c.name, field: field as keyof T['$inferInsert'] & string }));
