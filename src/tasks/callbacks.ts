import type { Config } from '../config';
import { newId, shardOfId } from '../ids';
import type { Outcome } from '../store/outcomes';
import type { NewTaskRow, TaskRow } from '../store/schema';

// Success and failure callbacks: a task enqueued with `Torque-Callback: <url>` (and/or
// `Torque-Failure-Callback`) reports its outcome, once it completes (or fails for good), as a new
// task to that URL: an ordinary task (retried, signed, listed, in the same database), inserted in
// the very transaction that records the outcome, whose `callback_of` names the task it reports
// on. A report never has callbacks of its own, so reports cannot loop.

export type Reported = Pick<TaskRow, 'appId' | 'id' | 'url' | 'method' | 'attempts' | 'callbackUrl' | 'failureCallbackUrl' | 'callbackOf'>;

/** The answer's own bytes, base64 (an outcome without them, e.g. rebuilt from the row, falls back to its text). */
function responseBase64(o: Pick<Outcome, 'response' | 'responseBytes'>): string | null {
  const bytes = o.responseBytes ?? (o.response == null ? null : new TextEncoder().encode(o.response));
  return bytes == null ? null : Buffer.from(bytes).toString('base64');
}

/** The JSON a callback receives (its JSON Schema is CallbackBody in the OpenAPI document). */
export function callbackBody(o: Outcome & { task: Reported }, now: number) {
  const status = o.next.status as 'completed' | 'failed';
  return {
    type: `task.${status}`,
    at: new Date(now).toISOString(),
    task: {
      id: o.task.id,
      url: o.task.url,
      method: o.task.method,
      status,
      attempts: o.task.attempts,
      last_status_code: o.statusCode,
      last_error: o.error,
      // The first KiB of the last answer, its bytes as they came (text or not).
      response_base64: responseBase64(o),
    },
  };
}

/** The report tasks these outcomes call for (with the attempt they report, for the insert's guard). */
export function callbackRows(outcomes: Outcome[], cfg: Pick<Config, 'DEFAULT_TIMEOUT' | 'MAX_RETRIES'>, now: number): (NewTaskRow & { ofAttempts: number })[] {
  const rows: (NewTaskRow & { ofAttempts: number })[] = [];
  for (const o of outcomes as (Outcome & { task: Reported })[]) {
    if (o.task.callbackOf || o.next.status === 'retry') continue;
    const url = o.next.status === 'completed' ? o.task.callbackUrl : o.task.failureCallbackUrl;
    if (!url) continue;
    rows.push({
      id: newId(now, shardOfId(o.task.id) ?? 0),
      appId: o.task.appId,
      url,
      method: 'POST',
      headers: null,
      body: Buffer.from(JSON.stringify(callbackBody(o, now))),
      contentType: 'application/json',
      status: 'pending',
      attempts: 0,
      maxRetries: cfg.MAX_RETRIES,
      timeout: cfg.DEFAULT_TIMEOUT,
      createdAt: now,
      updatedAt: now,
      dueAt: now,
      wakeAt: null,
      idempotencyKey: null,
      flowKey: null,
      callbackOf: o.task.id,
      ofAttempts: o.task.attempts,
    });
  }
  return rows;
}
