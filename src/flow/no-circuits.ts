import type { Config } from '../config';

// Apps a consumer found with no circuit at all, remembered by the isolate (per its configuration,
// which getConfig keeps per env). Most apps have none: circuits are written only when something
// fails. With a task queue per database, every database's consumer invocations would otherwise
// read the home database for them each time, and their claimed tasks wait for that read: in the
// capacity model with 8 databases, it filled the home database's line and claimed tasks missed
// their start windows (docs/scaling.md).
//
// An answer up to FRESH_MS old is used as it is. One up to STALE_MS old is used too, while one
// invocation reads it again in the background (one per FRESH_MS at most, not every invocation
// that starts at that moment). So a circuit another isolate opens is seen within STALE_MS at
// worst, about FRESH_MS on a busy isolate; a circuit this isolate records, once its recording is
// written (within about a second of the failure).
export const FRESH_MS = 1000;
export const STALE_MS = 5000;
// Past this many apps remembered, the isolate starts over (a moment's memory, not a table).
const MAX_APPS = 10_000;

type Seen = { at: number; refreshing: number };
const isolates = new WeakMap<Config, { apps: Map<string, Seen>; recorded: Map<string, number> }>();

export function noCircuits(cfg: Config) {
  const mine = isolates.get(cfg) ?? isolates.set(cfg, { apps: new Map(), recorded: new Map() }).get(cfg)!;
  const { apps, recorded } = mine;
  return {
    /**
     * What the isolate knows of the app: 'none' (found with no circuit, use that), 'refresh' (the
     * same, and this invocation reads it again in the background), or 'read' (read it, and wait).
     */
    look(appId: string, now = Date.now()): 'none' | 'refresh' | 'read' {
      const seen = apps.get(appId);
      if (!seen || now - seen.at > STALE_MS) return 'read';
      if (now - seen.at <= FRESH_MS || now - seen.refreshing <= FRESH_MS) return 'none';
      seen.refreshing = now;
      return 'refresh';
    },
    /** A read sent at `sentAt` found no circuit for the app (ignored if this isolate recorded one since). */
    none(appId: string, sentAt: number): void {
      if ((recorded.get(appId) ?? -1) >= sentAt) return;
      if (apps.size >= MAX_APPS) apps.clear();
      apps.set(appId, { at: sentAt, refreshing: 0 });
    },
    /** The app has circuits, or this isolate is recording circuit state for it: read it (and wait) from now on. */
    some(appId: string, now = Date.now()): void {
      apps.delete(appId);
      if (recorded.size >= MAX_APPS) recorded.clear();
      recorded.set(appId, now);
    },
  };
}
