import { Cron } from 'croner';

// Cron expressions are parsed by croner (no dependencies, runs in Workers, time zones through the
// runtime's Intl, DST handled). Torque takes the classic 5 fields only (minute resolution: the
// cron tick runs once a minute), and an IANA time zone (default UTC).

const FIELDS = ['minute', 'hour', 'day-of-month', 'month', 'day-of-week'] as const;

/**
 * The expression as croner must read it. `?` means what Quartz users know: "no particular value",
 * the same as `*`, in day-of-month and day-of-week (croner alone reads it as "the value at the
 * time of evaluation", so `0 0 ? * *` would run monthly and a resume would move the minute).
 * Elsewhere it means nothing: refused.
 */
function forCroner(expr: string, strict = true): string {
  const fields = expr.trim().split(/\s+/);
  return fields.map((f, i) => {
    if (!f.includes('?')) return f;
    if (f === '?' && (FIELDS[i] === 'day-of-month' || FIELDS[i] === 'day-of-week')) return '*';
    // (A schedule stored before this rule keeps croner's reading rather than stop the tick.)
    if (!strict) return f;
    throw new CronProblem(`"?" is allowed only alone in day-of-month or day-of-week (where it means the same as "*"), not in ${FIELDS[i] ?? 'a field'} "${f}"`);
  }).join(' ');
}

class CronProblem extends Error {}

/** Why an expression or zone cannot be used, or null. */
export function cronProblem(expr: string, timezone: string): { field: 'cron' | 'timezone'; message: string } | null {
  // IANA names only: the runtime also takes UTC offsets ("+05:30"), which know no daylight saving.
  const iana = `"${timezone}" is not an IANA time zone (e.g. Europe/Berlin, Asia/Kolkata, UTC)`;
  if (/^[+\-\u2212]|^\d/.test(timezone.trim())) return { field: 'timezone', message: `${iana}: UTC offsets are not taken` };
  try {
    new Intl.DateTimeFormat('en', { timeZone: timezone });
  } catch {
    return { field: 'timezone', message: iana };
  }
  if (expr.trim().split(/\s+/).length !== 5) return { field: 'cron', message: 'must have 5 fields: minute hour day-of-month month day-of-week' };
  try {
    if (!new Cron(forCroner(expr), { timezone, paused: true }).nextRun()) return { field: 'cron', message: 'never runs (no date matches it)' };
  } catch (err) {
    // croner searches for a matching date year after year and overflows the stack when there is
    // none of its kind (`0 0 31 4,6,9,11 *`: those months have no 31st).
    if (err instanceof RangeError) return { field: 'cron', message: 'never runs (no date matches it)' };
    return { field: 'cron', message: err instanceof Error ? err.message : String(err) };
  }
  return null;
}

/** The first run strictly after `after` (ms), or null if there is none. */
export function nextRun(expr: string, timezone: string, after: number): number {
  const next = new Cron(forCroner(expr, false), { timezone, paused: true }).nextRun(new Date(after));
  return next ? next.getTime() : NEVER;
}

/**
 * The next run of a schedule that will not run again: the latest time a Date holds, so the tick's
 * index on next_run_at never reaches it. Shown as no next run.
 */
const NEVER = 8_640_000_000_000_000;
export const runsAgain = (at: number) => at < NEVER;
