import type { Config } from '../config';
import { logEvent } from '../log';
import type { AttemptResult } from '../dispatch/call';
import { normalizeHost } from '../hook/hosts';
import { signatureHeaders } from '../hook/sign';
import type { DB } from '../store';
import { readCircuits, recordCircuits, takeProbe, type CircuitNews, type CircuitRow } from '../store/circuits';
import type { TaskRow } from '../store/schema';

// Circuit breakers, per app and destination (the task's flow, else its host). A run of failures
// that are the destination's fault (no answer, or a 5xx; not a 4xx, which is the task's) opens
// the circuit: the destination's tasks then wait, their retries untouched, while one probe per
// interval tries it; the probe's success closes the circuit and the tasks go. State lives in the
// home database, written only when something failed (a task that succeeds at a healthy
// destination writes nothing), and read once per consumer invocation.

/** A URL's host as policies compare hosts (case, IDNA, IP forms), or as written if it has no such form. */
export const hostOf = (url: string) => {
  const host = new URL(url).hostname;
  return normalizeHost(host) ?? host;
};

export const destinationOf = (t: Pick<TaskRow, 'flowKey' | 'url'>) => (t.flowKey ? `flow:${t.flowKey}` : `host:${hostOf(t.url)}`);

/** The destination's fault, or not: only these open circuits (true), close them (false), or neither. */
export function verdict(r: Pick<AttemptResult, 'outcome' | 'statusCode'>): boolean | null {
  if (r.outcome === 'ok') return false;
  if (r.outcome === 'network' || (r.outcome === 'http' && (r.statusCode ?? 0) >= 500)) return true;
  return null;
}

/**
 * Tells the operator (ALERT_URL) that circuits opened or closed: one signed JSON call per change,
 * Standard Webhooks signing as for hooks. Best effort: one try, 10 s at most, failures logged.
 */
async function alert(cfg: Config, changes: { type: string; c: CircuitRow }[], now: number): Promise<void> {
  for (const { type, c } of changes) logEvent('circuit.changed', { change: type, app: c.appId, destination: c.destination, failures: c.failures }, type === 'circuit.opened' ? 'warn' : 'info');
  if (!cfg.ALERT_URL || changes.length === 0) return;
  await Promise.all(changes.map(async ({ type, c }) => {
    const body = new TextEncoder().encode(JSON.stringify({
      type, app: c.appId, destination: c.destination, failures: c.failures, at: new Date(now).toISOString(),
      next_probe_at: type === 'circuit.opened' ? new Date(c.probeAt).toISOString() : null,
    }));
    const id = `alert_${c.appId}_${c.destination}_${now}`.replace(/[^A-Za-z0-9_.:-]/g, '_');
    const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'Torque' };
    if (cfg.SIGNING_SECRET) Object.assign(headers, await signatureHeaders(cfg.SIGNING_SECRET, id, Math.floor(now / 1000), body));
    try {
      const res = await fetch(cfg.ALERT_URL!, { method: 'POST', body, headers, signal: AbortSignal.timeout(10_000) });
      await res.body?.cancel();
      if (!res.ok) console.error(`ALERT_URL answered ${res.status} to ${type}`);
    } catch (err) {
      console.error(`ALERT_URL could not be called for ${type}`, err);
    }
  }));
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
        const { left, opened, closed } = await recordCircuits(home, batch, now, cfg.BREAKER_THRESHOLD, intervalMs, intervalMs * 10);
        for (const c of left) view?.set(key(c.appId, c.destination), c);
        await alert(cfg, [...opened.map((c) => ({ type: 'circuit.opened', c })), ...closed.map((c) => ({ type: 'circuit.closed', c }))], now);
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
          // Another invocation took this probe: the rest of the wave waits for the next one,
          // without asking again.
          c = { ...c, probeAt: now + c.intervalMs };
          view.set(k, c);
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
