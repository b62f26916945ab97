// Baseline: the platform's floor for this job. The whole task rides in the queue message (no
// D1 at all) and the consumer fetches every hook in its batch; no retries, no bookkeeping.
// Like Torque it keeps 6 fetches in flight per invocation: production Workers allow 6
// simultaneous outgoing connections per invocation (local workerd does not enforce it, so an
// unbounded Promise.all here would measure a platform that does not exist).
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
    const messages = [...(batch as MessageBatch<Job>).messages];
    const worker = async () => {
      for (let m = messages.shift(); m; m = messages.shift()) {
        const res = await fetch(m.body.url, { method: 'POST', body: m.body.body, headers: { 'content-type': m.body.contentType, 'torque-task-id': m.body.id } });
        await res.body?.cancel();
        m.ack();
      }
    };
    await Promise.all(Array.from({ length: 6 }, worker));
  },
} satisfies ExportedHandler<{ Q: Queue }>;
