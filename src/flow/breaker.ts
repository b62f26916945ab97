import type { Config } from '../config';
import type { AttemptResult } from '../dispatch/call';
import { normalizeHost } from '../hook/hosts';
import type { DB } from '../store';
import { readCircuits, recordCircuits, takeProbe, type CircuitNews, type CircuitRow } from '../store/circuits';
import type { TaskRow } from '../store/schema';

// Circuit breakers, per app and destination (the task's flow, else its host). A run of failures
// that are the destination's fault (no answer, or a 5xx; not a 4xx, which is the task's) opens
// the circuit: the destination's tasks then wait, their retries untouched, while one probe per
// interval tries it; the probe's success closes the circuit and the tasks go. State lives in the
// home database, written only when something failed (a task that succeeds at a healthy
// destination writes nothing), and read once per consumer invocation.

export const destinationOf = (t: Pick<TaskRow, 'flowKey' | 'url'>) => {
  if (t.flowKey) return `flow:${t.flowKey}`;
  const host = new URL(t.url).hostname;
  return `host:${normalizeHost(host) ?? host}`;
};

/** The destination's fault, or not: only these open circuits (true), close them (false), or neither. */
export function verdict(r: Pick<AttemptResult, 'outcome' | 'statusCode'>): boolean | null {
  if (r.outcome === 'ok') return false;
  if (r.outcome === 'network' || (r.outcome === 'http' && (r.statusCode ?? 0) >= 500)) return true;
  return null;
}

export function breakers(cfg: Config, home: DB) {
  const on = cfg.BREAKER_THRESHOLD > 0;
  const intervalMs = cfg.BREAKER_INTERVAL * 1000;
  let view: Map<string, CircuitRow> | undefined;
  const key = (app: string, destination: string) => `${app}\n${destination}`;
  const news = new Map<string, CircuitNews>();
  let chain = Promise.resolve();

  const flush = () => {
    const batch = [...news.values()];
    news.clear();
    chain = chain.then(async () => {
      if (batch.length === 0) return;
      try {
        const now = Date.now();
        for (const c of await recordCircuits(home, batch, now, cfg.BREAKER_THRESHOLD, intervalMs, intervalMs * 10)) view?.set(key(c.appId, c.destination), c);
        for (const n of batch) if (n.closed && n.failures === 0) view?.delete(key(n.app, n.destination));
      } catch (err) {
        console.error('recording circuit state failed', err);
      }
    });
    return chain;
  };
  let timer: ReturnType<typeof setTimeout> | undefined;

  return {
    /** Tasks whose destination's circuit lets them go (closed, or this one is the probe), and the rest. */
    async check(tasks: TaskRow[], now = Date.now()): Promise<{ go: TaskRow[]; held: { task: TaskRow; dueAt: number }[] }> {
      if (!on || tasks.length === 0) return { go: tasks, held: [] };
      view ??= new Map((await readCircuits(home)).map((c) => [key(c.appId, c.destination), c]));
      const go: TaskRow[] = [];
      const held: { task: TaskRow; dueAt: number }[] = [];
      for (const task of tasks) {
        const k = key(task.appId, destinationOf(task));
        let c = view.get(k);
        if (c && c.state !== 'closed' && c.probeAt <= now) {
          const probe = await takeProbe(home, task.appId, destinationOf(task), now);
          if (probe) {
            view.set(k, probe);
            go.push(task);
            continue;
          }
          c = { ...c, probeAt: now + c.intervalMs };
        }
        if (!c || c.state === 'closed') go.push(task);
        // Back right after the next probe (spread a little): if it succeeded, they go.
        else held.push({ task, dueAt: c.probeAt + 1000 + held.length * 10 });
      }
      return { go, held };
    },
    /** Notes an attempt's result; written within a second, with others. */
    note(task: TaskRow, result: Pick<AttemptResult, 'outcome' | 'statusCode'>): void {
      const fault = on ? verdict(result) : null;
      if (fault === null) return;
      const destination = destinationOf(task);
      const k = key(task.appId, destination);
      // A success matters only where a circuit exists (or failures were just noted).
      if (!fault && !view?.has(k) && !news.has(k)) return;
      const n = news.get(k) ?? { app: task.appId, destination, closed: false, failures: 0 };
      if (fault) n.failures++;
      else Object.assign(n, { closed: true, failures: 0 });
      news.set(k, n);
      timer ??= setTimeout(() => ((timer = undefined), void flush()), 1000);
    },
    flush: () => {
      clearTimeout(timer);
      timer = undefined;
      return flush();
    },
  };
}
