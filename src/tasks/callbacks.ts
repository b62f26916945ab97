import type { Config } from '../config';
import { QSTASH_MARK, shownHeaders } from '../hook/qstash';
import { newId, shardOfId } from '../ids';
import type { Outcome } from '../store/outcomes';
import type { NewTaskRow, TaskRow } from '../store/schema';

// Success and failure callbacks: a task enqueued with `Torque-Callback: <url>` (and/or
// `Torque-Failure-Callback`) reports its outcome, once it completes (or fails for good), as a new
// task to that URL: an ordinary task (retried, signed, listed, in the same database), inserted in
// the very transaction that records the outcome, whose `callback_of` names the task it reports
// on. A report never has callbacks of its own, so reports cannot loop.

export type Reported = Pick<TaskRow, 'appId' | 'id' | 'url' | 'method' | 'attempts' | 'callbackUrl' | 'failureCallbackUrl' | 'callbackOf'>
  & Partial<Pick<TaskRow, 'headers' | 'body' | 'maxRetries' | 'retryBase' | 'createdAt' | 'scheduleId'>>;

// Not btoa(String.fromCharCode(...bytes)): spreading a body of some 100 KB overflows the stack.
const base64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');
// The message a QStash callback quotes (sourceBody), base64: past this a task's body is left out
// (''), so a report of a big task still fits a D1 row (2 MB) beside everything else.
export const SOURCE_BODY_MAX = 512 * 1024;

/** The answer's own bytes, base64 (an outcome without them, e.g. rebuilt from the row, falls back to its text). */
function responseBase64(o: Pick<Outcome, 'response' | 'responseBytes'>): string | null {
  const bytes = o.responseBytes ?? (o.response == null ? null : new TextEncoder().encode(o.response));
  return bytes == null ? null : base64(bytes);
}

/** The reported task's body for a QStash callback: base64, or '' when none or past SOURCE_BODY_MAX. */
function sourceBody(body: Reported['body']): string {
  const bytes = body ? new Uint8Array(body as unknown as ArrayBuffer) : null;
  return bytes && bytes.length <= SOURCE_BODY_MAX ? base64(bytes) : '';
}

/** The JSON a callback receives (its JSON Schema is CallbackBody in the OpenAPI document). */
function callbackBody(o: Outcome & { task: Reported }, now: number) {
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

/**
 * What QStash sends a callback, for tasks made through /v2 (so QStash users' callback handlers
 * read it unchanged): the answer (its first KiB, as Torque keeps it) and the message it answers.
 */
function qstashCallbackBody(o: Outcome & { task: Reported }, stored: Record<string, string>) {
  const t = o.task;
  const sourceHeader = shownHeaders(stored);
  return {
    status: o.statusCode ?? 0, header: {}, body: responseBase64(o) ?? base64(new TextEncoder().encode(o.error ?? '')),
    retried: Math.max(0, t.attempts - (t.retryBase ?? 0) - 1), maxRetries: t.maxRetries ?? 0,
    sourceMessageId: t.id, url: t.url, method: t.method, sourceHeader, sourceBody: sourceBody(t.body),
    ...(stored['upstash-topic-name'] ? { topicName: stored['upstash-topic-name'] } : {}),
    ...(t.scheduleId ? { scheduleId: t.scheduleId } : {}),
    createdAt: t.createdAt ?? 0, callerIP: '',
  };
}

/** The report tasks these outcomes call for (with the attempt they report, for the insert's guard). */
export function callbackRows(outcomes: Outcome[], cfg: Pick<Config, 'DEFAULT_TIMEOUT' | 'MAX_RETRIES'>, now: number): (NewTaskRow & { ofAttempts: number })[] {
  const rows: (NewTaskRow & { ofAttempts: number })[] = [];
  for (const o of outcomes as (Outcome & { task: Reported })[]) {
    if (o.task.callbackOf || o.next.status === 'retry') continue;
    const url = o.next.status === 'completed' ? o.task.callbackUrl : o.task.failureCallbackUrl;
    if (!url) continue;
    // A /v2 task's report is a /v2 task too: QStash's callback body, signed the QStash way.
    const stored = o.task.headers?.includes(QSTASH_MARK) ? (JSON.parse(o.task.headers) as Record<string, string>) : null;
    const qstash = stored?.[QSTASH_MARK] !== undefined;
    rows.push({
      id: newId(now, shardOfId(o.task.id) ?? 0),
      appId: o.task.appId,
      url,
      method: 'POST',
      headers: qstash ? JSON.stringify({ [QSTASH_MARK]: '1' }) : null,
      body: Buffer.from(JSON.stringify(qstash ? qstashCallbackBody(o, stored!) : callbackBody(o, now))),
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
