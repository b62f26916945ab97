// Baseline: the platform's floor for this job. The whole task rides in the queue message (no
// D1 at all) and the consumer fetches every hook in its batch; no retries, no bookkeeping.
type Job = { id: string; url: string; body: string; contentType: string };

export default {
  async fetch(req, env) {
    const url = new URL(req.url).searchParams.get('url');
    if (!url) return new Response('url required', { status: 400 });
    const id = crypto.randomUUID();
    const job: Job = { id, url, body: await req.text(), contentType: req.headers.get('content-type') ?? 'application/x-www-form-urlencoded' };
    await (env.Q as Queue<Job>).send(job);
    return Response.json({ id }, { status: 201 });
  },
  async queue(batch) {
    await Promise.all(
      (batch as MessageBatch<Job>).messages.map(async (m) => {
        const res = await fetch(m.body.url, { method: 'POST', body: m.body.body, headers: { 'content-type': m.body.contentType, 'torque-task-id': m.body.id } });
        await res.body?.cancel();
        m.ack();
      }),
    );
  },
} satisfies ExportedHandler<{ Q: Queue }>;
