import { logEvent } from '../log';
import type { Config } from '../config';
import type { AttemptResult } from '../dispatch/call';
import { normalizeHost } from '../hook/hosts';
import { holdAt, readAppsCircuits, readCircuits, recordCircuits, releaseTasks, takeProbe, type CircuitKey, type CircuitNews, type CircuitRow } from '../store/circuits';
import type { Shards } from '../store/shards';
import { keysByShard } from '../tasks/app-tasks';
import type { Scope } from '../scope';
import { sendTaskMessagesBestEffort } from '../tasks/queue-messages';
import type { TaskRow } from '../store/schema';
import { noCircuits } from './no-circuits';

// Circuit breakers, per app and destination (the task's flow, else its URL's origin). A run of failures
// that are the destination's fault (no answer, or a 5xx; not a 4xx, which is the task's) opens
// the circuit: the destination's tasks then wait, their retries untouched, while one probe per
// interval tries it; the probe's success closes the circuit and the tasks it held go at once.
// State lives in the home database, written only when something failed (a task that succeeds at a
// healthy destination writes nothing), and read per invocation for the apps of its batch, alongside
// its first claim (by destination for an app with many circuits), except for apps the isolate has
// just found with none (no-circuits.ts).

/** A URL's host as policies compare hosts (case, IDNA, IP forms), or as written if it has no such form. */
export const hostOf = (url: string) => {
  const host = new URL(url).hostname;
  return normalizeHost(host) ?? host;
};

/**
 * A URL's origin, the unit a circuit breaker watches: scheme, host (normalised as hosts are) and
 * port, the port left out when it is the scheme's own ("https://api.example.com",
 * "http://127.0.0.1:54549"). Two services on one host are two destinations: one being down says
 * nothing about the other.
 */
const originOf = (url: string) => {
  const u = new URL(url);
  return `${u.protocol}//${hostOf(url)}${u.port ? `:${u.port}` : ''}`;
};

const destinationOf = (t: Pick<TaskRow, 'flowKey' | 'url'>) => (t.flowKey ? `flow:${t.flowKey}` : originOf(t.url));

/** The destination's fault, or not: only these open circuits (true), close them (false), or neither. */
function verdict(r: Pick<AttemptResult, 'outcome' | 'statusCode'>): boolean | null {
  if (r.outcome === 'ok') return false;
  if (r.outcome === 'network' || (r.outcome === 'http' && (r.statusCode ?? 0) >= 500)) return true;
  return null;
}

/**
 * Lets tasks a circuit held go now: those still waiting become due and are sent to the queue. Used
 * when a probe succeeds and on a reset, so recovery does not wait for each task's next look.
 */
export async function releaseHeld(s: Scope, ids: string[], now = Date.now()): Promise<number> {
  const moved = (await Promise.all([...keysByShard(s.shards, s.appId, ids)].map(([shard, keys]) => releaseTasks(shard.db, keys, now, s.config.ms.SWEEP_GRACE)))).flat();
  await sendTaskMessagesBestEffort(s.env, moved, now);
  return moved.length;
}

type Held = { task: TaskRow; dueAt: number };

// Circuit rows a consumer reads per invocation for all its batch's apps together, before any claim
// answers (see `prefetch`); apps it could not hold whole are read by destination once claimed.
export const PREFETCH_CIRCUITS = 20;

export function breakers(env: Env, cfg: Config, shards: Shards) {
  const home = shards.home.db;
  const on = cfg.BREAKER_THRESHOLD > 0;
  const intervalMs = cfg.ms.BREAKER_INTERVAL;
  // The circuits of the destinations this invocation has seen (null: none), read as they appear.
  const view = new Map<string, CircuitRow | null>();
  const key = (app: string, destination: string) => `${app}\n${destination}`;
  const news = new Map<string, CircuitNews>();
  // Apps whose every circuit is in `view` (a destination of theirs not in it has none), and the read that tells.
  const complete = new Set<string>();
  let prefetched: Promise<void> = Promise.resolve();
  // A background read of apps remembered with no circuit (no-circuits.ts): nothing waits for it but the end.
  let refreshed: Promise<void> = Promise.resolve();
  let chain = Promise.resolve();
  const none = noCircuits(cfg);

  const flush = () => {
    const batch = [...news.values()];
    news.clear();
    for (const n of batch) none.some(n.appId);
    chain = chain.then(async () => {
      if (batch.length === 0) return;
      try {
        const now = Date.now();
        const { left, held, opened, closed } = await recordCircuits(home, batch, now, cfg.BREAKER_THRESHOLD, intervalMs, intervalMs * 10, !!cfg.ALERT_URL);
        // Again once written: a read sent while this was on its way may have found none.
        for (const n of batch) none.some(n.appId);
        for (const c of opened) logEvent('circuit.changed', { change: 'opened', app: c.appId, destination: c.destination, failures: c.failures }, 'warn');
        for (const c of closed) logEvent('circuit.changed', { change: 'closed', app: c.appId, destination: c.destination, failures: c.failures });
        for (const c of left) view.set(key(c.appId, c.destination), c);
        for (const n of batch) if (n.closed && n.failures === 0) view.set(key(n.appId, n.destination), null);
        // A probe succeeded: every task its circuit held goes now, not at its next look.
        await Promise.all(held.map((h) => releaseHeld({ env, config: cfg, shards, appId: h.appId }, h.ids, now)));
      } catch (err) {
        console.error('recording circuit state failed', err);
      }
    });
    return chain;
  };
  let timer: ReturnType<typeof setTimeout> | undefined;

  /** Reads the circuits of destinations not seen yet in this invocation (one query for all). */
  async function look(tasks: TaskRow[]) {
    const missing = new Map<string, CircuitKey>();
    await prefetched;
    for (const t of tasks) {
      const k = key(t.appId, destinationOf(t));
      if (view.has(k)) continue;
      if (complete.has(t.appId)) view.set(k, null);
      else missing.set(k, { appId: t.appId, destination: destinationOf(t) });
    }
    if (missing.size === 0) return;
    // Marked seen only once read: a read that fails must not leave an open circuit looking closed
    // for the rest of the invocation (the admission fails and its tasks go back instead).
    const found = await readCircuits(home, [...missing.values()]);
    for (const k of missing.keys()) view.set(k, null);
    for (const c of found) view.set(key(c.appId, c.destination), c);
  }

  return {
    /**
     * Starts reading the circuits of these apps, alongside the first claim: the apps are known
     * from the messages, the destinations only from the claim, and a read sent after the claim
     * would keep the claimed tasks waiting another round trip (and a turn in a busy database's
     * line) out of their start window (../start-window.ts). One statement either way. If it fails,
     * `check` reads by destination as before.
     */
    prefetch(apps: string[]): void {
      if (!on) return;
      const sentAt = Date.now();
      const looks = apps.map((a) => [a, none.look(a, sentAt)] as const);
      // Apps this isolate found with none just now go without a read; their tasks need not wait.
      for (const [a, look] of looks) if (look !== 'read') complete.add(a);
      const read = (list: string[]) => readAppsCircuits(home, list, PREFETCH_CIRCUITS).then(({ rows, complete: all }) => {
        // Only an app read whole and found with none is remembered; any other is read (and waited for) next time.
        const some = new Set(rows.map((c) => c.appId));
        const whole = new Set(all);
        for (const a of list) (whole.has(a) && !some.has(a) ? none.none(a, sentAt) : none.some(a));
        return { rows, all };
      });
      const stale = looks.filter(([, look]) => look === 'refresh').map(([a]) => a);
      if (stale.length) refreshed = read(stale).then(() => undefined, (err) => console.error('reading circuit state again failed', err));
      const unknown = looks.filter(([, look]) => look === 'read').map(([a]) => a);
      if (unknown.length === 0) return;
      prefetched = read(unknown).then(({ rows, all }) => {
        for (const c of rows) view.set(key(c.appId, c.destination), c);
        for (const a of all) complete.add(a);
      }, (err) => console.error('reading circuit state failed; reading it by destination', err));
    },
    /** Tasks whose destination's circuit lets them go (closed, or this one is the probe), and the rest. */
    async check(tasks: TaskRow[], now = Date.now()): Promise<{ go: TaskRow[]; held: Held[] }> {
      if (!on || tasks.length === 0) return { go: tasks, held: [] };
      await look(tasks);
      const go: TaskRow[] = [];
      const holding = new Map<string, Held[]>();
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
        // Back right after the next probe (spread a little), unless the probe's success lets it go first.
        else holding.get(k)?.push({ task, dueAt: c.probeAt + 1000 }) ?? holding.set(k, [{ task, dueAt: c.probeAt + 1000 }]);
      }
      const held: Held[] = [];
      await Promise.all([...holding.values()].map(async (tasks) => {
        const at = { appId: tasks[0].task.appId, destination: destinationOf(tasks[0].task) };
        // Noted at the circuit before the probe can end, so its success finds them. A circuit
        // closed meanwhile (by another invocation) holds nothing: they go.
        if (await holdAt(home, at, tasks.map((h) => h.task.id))) held.push(...tasks.map((h, i) => ({ task: h.task, dueAt: h.dueAt + i * 10 })));
        else {
          view.set(key(at.appId, at.destination), null);
          go.push(...tasks.map((h) => h.task));
        }
      }));
      return { go, held };
    },
    /** Notes an attempt's result; written within a second, with others. */
    note(task: TaskRow, result: Pick<AttemptResult, 'outcome' | 'statusCode'>): void {
      const fault = on ? verdict(result) : null;
      if (fault === null) return;
      const destination = destinationOf(task);
      const k = key(task.appId, destination);
      // A success matters only where a circuit exists (or failures were just noted).
      if (!fault && !view.get(k) && !news.has(k)) return;
      const n = news.get(k) ?? { appId: task.appId, destination, closed: false, failures: 0 };
      if (fault) n.failures++;
      else Object.assign(n, { closed: true, failures: 0 });
      news.set(k, n);
      timer ??= setTimeout(() => ((timer = undefined), void flush()), 1000);
    },
    /** Writes what changed; also waits for a read still out (its claim found nothing to check), so the invocation ends with none in flight. */
    flush: async () => {
      clearTimeout(timer);
      timer = undefined;
      await Promise.all([prefetched, refreshed]);
      return flush();
    },
  };
}
