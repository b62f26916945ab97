// A sweeper backlog made directly in SQL (the test and `npm run bench -- sweep` share it): `n`
// tasks of one app, made at `created` (ids in that millisecond, numbered), already counted
// by the app's counters (folded), each in one of the states the sweeper must act on.
// Plain strings: no imports, so both workerd tests and Node benches can use it.

export type BacklogKind =
  | 'expired' // completed before COMPLETED_TTL ago, never in the wake index: the expiry walk deletes it
  | 'failed' // failed, its FAILED_TTL over: a wake round deletes it
  | 'lost'; // waiting, its message lost: a wake round re-sends it

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const timePart = (ms: number) => {
  let s = '';
  for (let i = 0, t = ms; i < 10; i++, t = Math.floor(t / 32)) s = ALPHABET[t % 32] + s;
  return s;
};

/** Statements (with their values) that make the backlog; run them in order. */
export function backlogStatements(app: string, kind: BacklogKind, n: number, created: number, shard = '0') {
  const status = kind === 'expired' ? 'completed' : kind === 'failed' ? 'failed' : 'retry';
  const wake = kind === 'expired' ? null : created + 1;
  const column = status === 'completed' ? 'completed' : status;
  // Numbered ids sort in the order made; the seed's `kind` keeps backlogs of one app apart.
  const prefix = timePart(created) + 'ABC'.charAt(['expired', 'failed', 'lost'].indexOf(kind));
  return [
    {
      sql: `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?3)
        INSERT INTO tasks (app_id, id, url, method, status, attempts, max_retries, timeout, created_at, updated_at, due_at, wake_at, completed_at, body)
        SELECT ?1, printf('%s%014d%s', ?2, i, ?7), 'https://hook.example/backlog', 'POST', ?4, 1, 3, 60, ?5, ?5, ?5 + 1, ?6, ?5, 'x' FROM n`,
      values: [app, prefix, n, status, created, wake, shard],
    },
    { sql: 'INSERT OR IGNORE INTO app_stats (app_id) VALUES (?1)', values: [app] },
    // Folded: counted, and the walks' cursors past them (the fold has seen them).
    {
      sql: `UPDATE app_stats SET ${column} = ${column} + ?2, folded_to = max(folded_to, ?3) WHERE app_id = ?1`,
      values: [app, n, timePart(created + 1) + '0'.repeat(16)],
    },
  ];
}
