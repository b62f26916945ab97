import { Cron } from 'croner';

// Cron expressions are parsed by croner (no dependencies, runs in Workers, time zones through the
// runtime's Intl, DST handled). Torque takes the classic 5 fields only (minute resolution: the
// cron tick runs once a minute), and an IANA time zone (default UTC).

/** Why an expression or zone cannot be used, or null. */
export function cronProblem(expr: string, timezone: string): { field: 'cron' | 'timezone'; message: string } | null {
  try {
    new Intl.DateTimeFormat('en', { timeZone: timezone });
  } catch {
    return { field: 'timezone', message: `"${timezone}" is not an IANA time zone (e.g. Europe/Berlin)` };
  }
  if (expr.trim().split(/\s+/).length !== 5) return { field: 'cron', message: 'must have 5 fields: minute hour day-of-month month day-of-week' };
  try {
    if (!new Cron(expr, { timezone, paused: true }).nextRun()) return { field: 'cron', message: 'never runs' };
  } catch (err) {
    return { field: 'cron', message: err instanceof Error ? err.message : String(err) };
  }
  return null;
}

/** The first run strictly after `after` (ms), or null if there is none. */
export function nextRun(expr: string, timezone: string, after: number): number | null {
  const next = new Cron(expr, { timezone, paused: true }).nextRun(new Date(after));
  return next ? next.getTime() : null;
}
