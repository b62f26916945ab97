import type { Config } from '../config';
import { signatureHeaders } from '../hook/sign';
import type { DB } from '../store';
import { pruneCircuits, takeCircuitChanges, type CircuitChange } from '../store/circuits';

// Circuits opening and closing reach the operator (ALERT_URL) coalesced: each cron tick sends at
// most one call per app, listing every change since the last tick, so 200 flows failing at once
// make one call, not 200. Best effort: one try, 10 s at most, failures logged (the changes are
// gone either way, /destinations shows the state).

// Changes one tick sends at most (the rest wait for the next tick).
const CHANGES_PER_TICK = 5000;

const changeJson = (c: CircuitChange) => ({
  destination: c.destination, change: c.change, failures: c.failures, at: new Date(c.at).toISOString(),
  next_probe_at: c.nextProbeAt == null ? null : new Date(c.nextProbeAt).toISOString(),
});

// An open circuit no task came to probe for this long holds nothing (held tasks come back right
// after each probe time, or the sweeper sends them within SWEEP_GRACE): it is dropped.
const IDLE_OPEN_MS = 3_600_000;

/** The cron tick's care of circuits: drop those that mean nothing any more, then alert. */
export async function tendCircuits(cfg: Config, home: DB, now: number): Promise<void> {
  // Closed circuits count failures in a row: a last failure 10 intervals old ends the run.
  await pruneCircuits(home, now, 10 * cfg.ms.BREAKER_INTERVAL, IDLE_OPEN_MS);
  await sendCircuitAlerts(cfg, home, now);
}

/** Sends this tick's alerts: one signed JSON POST per app with changes. Returns how many were sent. */
async function sendCircuitAlerts(cfg: Config, home: DB, now: number): Promise<number> {
  // (Changes are noted only while ALERT_URL is set; any left from before it was unset wait for it.)
  if (!cfg.ALERT_URL) return 0;
  const changes = await takeCircuitChanges(home, CHANGES_PER_TICK);
  const byApp = new Map<string, CircuitChange[]>();
  for (const c of changes) byApp.get(c.appId)?.push(c) ?? byApp.set(c.appId, [c]);
  await Promise.all([...byApp].map(([app, list]) => post(cfg, { appId: app, list, now })));
  return byApp.size;
}

async function post(cfg: Config, alert: { appId: string; list: CircuitChange[]; now: number }) {
  const { appId: app, list, now } = alert;
  const body = new TextEncoder().encode(JSON.stringify({ type: 'circuits.changed', app, at: new Date(now).toISOString(), changes: list.map(changeJson) }));
  const id = `alert_${app}_${list[0].id}`.replace(/[^A-Za-z0-9_.:-]/g, '_');
  const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'Torque' };
  if (cfg.SIGNING_SECRET) Object.assign(headers, await signatureHeaders(cfg.SIGNING_SECRET, id, Math.floor(now / 1000), body));
  try {
    const res = await fetch(cfg.ALERT_URL!, { method: 'POST', body, headers, signal: AbortSignal.timeout(10_000) });
    await res.body?.cancel();
    if (!res.ok) console.error(`ALERT_URL answered ${res.status} to ${app}'s circuit changes`);
  } catch (err) {
    console.error(`ALERT_URL could not be called for ${app}'s circuit changes`, err);
  }
}
