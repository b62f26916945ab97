import type { Config } from '../config';

// Apps a consumer found with no circuit at all, remembered for a moment by the isolate (per its
// configuration, which getConfig keeps per env). Most apps have none: circuits are written only
// when something fails. With a task queue per database, every database's consumer invocations
// would otherwise read the home database for them each time; in the capacity model, with 8
// databases, that read alone kept the home database's line full (docs/scaling.md). A circuit
// another isolate opens is seen within NO_CIRCUITS_MS; one this isolate records, at once.
export const NO_CIRCUITS_MS = 1000;
// Past this many apps remembered, the isolate starts over (a moment's memory, not a table).
const MAX_APPS = 10_000;

const isolates = new WeakMap<Config, { until: Map<string, number>; recorded: Map<string, number> }>();

export function noCircuits(cfg: Config) {
  const mine = isolates.get(cfg) ?? isolates.set(cfg, { until: new Map(), recorded: new Map() }).get(cfg)!;
  const { until, recorded } = mine;
  return {
    /** Whether the app was found with no circuit less than NO_CIRCUITS_MS ago. */
    known(appId: string, now = Date.now()): boolean {
      return (until.get(appId) ?? 0) > now;
    },
    /** A read sent at `sentAt` found no circuit for the app (ignored if this isolate recorded one since). */
    found(appId: string, sentAt: number): void {
      if ((recorded.get(appId) ?? -1) >= sentAt) return;
      if (until.size >= MAX_APPS) until.clear();
      until.set(appId, sentAt + NO_CIRCUITS_MS);
    },
    /** This isolate is recording circuit state for the app: read it again from now on. */
    recording(appId: string, now = Date.now()): void {
      until.delete(appId);
      if (recorded.size >= MAX_APPS) recorded.clear();
      recorded.set(appId, now);
    },
  };
}
