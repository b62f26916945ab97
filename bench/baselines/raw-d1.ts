// Baseline: the floor of any design that stores a task durably before answering, as Torque does.
// The raw-Queues baseline plus one D1 insert per request (the task's URL and body, nothing else:
// no validation, no options, no counters) and, in the consumer, one read of the batch's rows and
// one delete of them. It shows what the durable write alone costs on this runtime. Its table
// (made by bench/run.ts): jobs (id TEXT PRIMARY KEY, url, body, content_type) WITHOUT ROWID.
type Job = { id: string };

export default {
  async fetch(req, env) {
    const url = new URL(req.url).searchParams.get('url');
    if (!url) return new Response('url required', { status: 400 });
    const id = crypto.randomUUID();
    const body = await req.text();
    await env.DB.prepare('INSERT INTO jobs (id, url, body, content_type) VALUES (?1, ?2, ?3, ?4)')
      .bind(id, url, body, req.headers.get('content-type') ?? 'application/x-www-form-urlencoded').run();
    await (env.Q as Queue<Job>).send({ id });
    return Response.json({ id }, { status: 201 });
  },
  async queue(batch, env) {
    const messages = [...(batch as MessageBatch<Job>).messages];
    const ids = JSON.stringify(messages.map((m) => m.body.id));
    const { results } = await env.DB.prepare('SELECT id, url, body, content_type FROM jobs WHERE id IN (SELECT value FROM json_each(?1))')
      .bind(ids).all<{ id: string; url: string; body: string; content_type: string }>();
    const worker = async () => {
      for (let j = results.shift(); j; j = results.shift()) {
        const res = await fetch(j.url, { method: 'POST', body: j.body, headers: { 'content-type': j.content_type, 'torque-task-id': j.id } });
        await res.body?.cancel();
      }
    };
    await Promise.all(Array.from({ length: 6 }, worker));
    await env.DB.prepare('DELETE FROM jobs WHERE id IN (SELECT value FROM json_each(?1))').bind(ids).run();
    batch.ackAll();
  },
} satisfies ExportedHandler<{ Q: Queue; DB: D1Database }>;
