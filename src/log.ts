// One structured log line per event Torque's operators query (Workers Logs indexes the fields of an
// object logged whole): `event` names what happened, the other fields are its facts. Workers Logs
// keeps a sample of invocations (wrangler.toml [observability]), so these lines show what happens
// and why; exact counts are in /metrics and /stats.
export type LogEvent =
  | 'enqueue.refused' // an enqueue answered 4xx/5xx
  | 'attempt.failed' // a hook call that did not succeed
  | 'sweep.report' // what a cron tick did
  | 'circuit.changed'; // a destination's circuit opened or closed

export function logEvent(event: LogEvent, fields: Record<string, unknown>, level: 'info' | 'warn' | 'error' = 'info'): void {
  const line = { event, ...fields };
  if (level === 'error') console.error(line);
  else if (level === 'warn') console.warn(line);
  else console.log(line);
}
