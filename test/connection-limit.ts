// The platform's limit on an invocation's outgoing connections, which local workerd does not
// enforce: at most six calls waiting for response headers; a seventh waits in a queue until one of
// them gets its headers (https://developers.cloudflare.com/workers/platform/limits/#simultaneous-open-connections).
// What counts, as the page lists it and Torque uses it: fetch() and Queues send()/sendBatch() (D1
// and Durable Object calls are not on the list). Platform wrapper only: every call passes through
// to the real one, after its turn. `queued` says how many calls had to wait for one.
export function sixConnections(limit = 6) {
  let open = 0;
  const line: (() => void)[] = [];
  const stats = { queued: 0, peak: 0 };
  const through = async <T>(call: () => Promise<T>): Promise<T> => {
    if (open >= limit) {
      stats.queued++;
      await new Promise<void>((r) => line.push(r));
    } else open++;
    stats.peak = Math.max(stats.peak, open);
    try {
      return await call(); // fetch resolves when the headers came; a send when it was accepted
    } finally {
      const next = line.shift();
      if (next) next();
      else open--;
    }
  };
  const queue = (q: Queue): Queue =>
    ({
      send: (body: unknown, o?: QueueSendOptions) => through(() => q.send(body, o)),
      sendBatch: (m: Iterable<MessageSendRequest>, o?: QueueSendBatchOptions) => through(() => q.sendBatch(m, o)),
    }) as Queue;
  return {
    stats,
    queue,
    /** Routes the isolate's fetch() through the limit until the returned function is called. */
    install(): () => void {
      const real = globalThis.fetch;
      globalThis.fetch = ((input: RequestInfo | URL, init?: RequestInit) => through(() => real(input, init))) as typeof fetch;
      return () => void (globalThis.fetch = real);
    },
  };
}
