import { consume, recordingQueue } from './helpers';

// The test plays the queue: it hands each message to a consumer invocation once its delay is up,
// several invocations at once, as Cloudflare runs them.

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Delivers `ids`, then every message the consumer sends, when due, until `done()` or `ms` pass. */
export async function playQueue(ids: string[], done: () => Promise<boolean>, ms: number, vars: Record<string, unknown> = {}) {
  const q = recordingQueue();
  const pending: { at: number; ids: string[] }[] = [{ at: 0, ids }];
  const running = new Set<Promise<unknown>>();
  let seen = 0;
  const end = Date.now() + ms;
  while (Date.now() < end) {
    for (const m of q.sent.slice(seen)) pending.push({ at: Date.now() + (m.delaySeconds ?? 0) * 1000, ids: m.body.ids });
    seen = q.sent.length;
    const ready = pending.filter((p) => p.at <= Date.now());
    pending.splice(0, pending.length, ...pending.filter((p) => p.at > Date.now()));
    // Up to 8 invocations at once, each with up to 100 ids.
    for (let i = 0; i < ready.length && running.size < 8; i++) {
      const batch = ready.splice(i--, 1).flatMap((r) => r.ids);
      const p: Promise<unknown> = consume(batch, { ...vars, ...q.vars }).finally(() => running.delete(p));
      running.add(p);
    }
    pending.push(...ready);
    if (running.size === 0 && pending.length === 0 && (await done())) return;
    if (await done()) break;
    await sleep(50);
  }
  await Promise.all(running);
}

