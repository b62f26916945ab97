import type { Enqueued } from '../../tasks/idempotent';
import { Hono, type Context } from 'hono';
import { z } from 'zod';
import { enqueue } from '../../tasks/enqueue';
import { apiError } from '../errors';
import { limitBody, rateLimit } from '../middleware';
import { MAX_BATCH } from '../routes/batch';
import { scope } from '../scope';
import type { AppEnv } from '../types';
import { jsonBody, publishOptions } from './headers';
import { applyFlows, messageRows, pathDestination, resolveDestination } from './publish';

// POST /v2/publish/<destination> and POST /v2/batch: QStash messages become Torque tasks through
// the native enqueue (one statement for all the rows of a request, as POST /batch).

/** A URL group stores the body once per endpoint: a request's rows are held to what a native /batch may carry. */
function holdTotal(c: Context<AppEnv>, rows: { body?: Uint8Array | null }[]) {
  const total = rows.reduce((n, r) => n + (r.body?.length ?? 0), 0);
  const most = c.get('config').MAX_BATCH_BYTES; // as the native /batch
  if (total > most) throw apiError(413, 'body_too_large', `body: stored once per message and endpoint, ${total} bytes in all is more than MAX_BATCH_BYTES (${most} bytes)`);
}

// A deduplicated message answers with the one it repeats, even once that is gone (its key is kept
// for IDEMPOTENCY_TTL): QStash answers a duplicate within its window the same way.
const answer = (r: Enqueued, url: string) => ('gone' in r
  ? { messageId: r.gone.id, url, deduplicated: true }
  : { messageId: r.task.id, url: r.task.url, ...(r.created ? {} : { deduplicated: true }) });
const created = (r: Enqueued) => !('gone' in r) && r.created;

const BatchItem = z.object({
  destination: z.string().min(1, 'is required'),
  headers: z.record(z.string(), z.string()).optional(),
  body: z.string().optional(),
  queue: z.string().optional(),
}).strict();
const Batch = z.array(BatchItem).min(1, `must hold 1 to ${MAX_BATCH} messages`).max(MAX_BATCH, `must hold 1 to ${MAX_BATCH} messages`);

// Mounted at /v2/publish and /v2/batch; each declares its rate limit (they start deliveries).
export const publishApp = new Hono<AppEnv>()
  .post('/*', limitBody(), rateLimit, async (c) => {
    const dest = await resolveDestination(c, pathDestination(c, '/publish/'));
    const o = publishOptions((n) => c.req.header(n), c.req.raw.headers.keys());
    const bytes = new Uint8Array(await c.req.arrayBuffer());
    const now = Date.now();
    const s = scope(c);
    const rows = await messageRows(s, { dest, o, body: bytes.length ? bytes : null }, { now });
    holdTotal(c, rows);
    await applyFlows(s, [o], now);
    const results = await enqueue(s, rows);
    const answers = results.map((r, i) => answer(r, rows[i].url));
    if (dest.topic !== undefined) return c.json(answers, results.some(created) ? 201 : 202);
    return c.json(answers[0], created(results[0]) ? 201 : 202);
  });

export const batchV2 = new Hono<AppEnv>()
  .post('/', limitBody(true), rateLimit, async (c) => {
    const parsed = Batch.safeParse(await jsonBody(c, 'an array of {destination, headers, body}'));
    if (!parsed.success) {
      const i = parsed.error.issues[0];
      throw apiError(400, 'invalid_request', `${i.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('') || 'body'}: ${i.message}`);
    }
    const now = Date.now();
    const s = scope(c);
    // Validated all-or-nothing: one bad message refuses the batch, and nothing is stored.
    const items = await Promise.all(parsed.data.map(async (m, i) => {
      if (m.queue !== undefined) throw apiError(501, 'not_implemented', `[${i}].queue: Torque has no ordered queues`);
      let headers: Headers;
      try {
        headers = new Headers(m.headers ?? {});
      } catch (err) {
        throw apiError(400, 'invalid_request', `[${i}].headers: ${err instanceof Error ? err.message : String(err)}`);
      }
      const o = publishOptions((n) => headers.get(n), headers.keys());
      const dest = await resolveDestination(c, m.destination);
      const body = m.body === undefined || m.body === '' ? null : new TextEncoder().encode(m.body);
      return { dest, o, rows: await messageRows(s, { dest, o, body }, { now, field: `[${i}].` }) };
    }));
    const rows = items.flatMap((it) => it.rows);
    holdTotal(c, rows);
    await applyFlows(s, items.map((it) => it.o), now);
    const results = await enqueue(s, rows);
    let at = 0;
    return c.json(items.map((it) => {
      const mine = results.slice(at, (at += it.rows.length)).map((r, j) => answer(r, it.rows[j].url));
      return it.dest.topic !== undefined ? mine : mine[0];
    }), 201);
  });
