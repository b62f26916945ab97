// The shapes Torque's API answers with and takes, one interface per schema of /openapi.json under
// the same name (test/client-types.test.ts fails when a field, its optionality or its null drifts).
// One field a line: that test reads this file.

export type TaskStatus = 'pending' | 'in_progress' | 'retry' | 'completed' | 'failed';
export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface Task {
  id: string;
  url: string;
  method: Method;
  status: TaskStatus;
  attempts: number;
  max_retries: number;
  timeout: number;
  created_at: string;
  updated_at: string;
  due_at: string | null;
  completed_at: string | null;
  expires_at: string | null;
  last_status_code: number | null;
  last_error: string | null;
  flow_key: string | null;
  callback: string | null;
  failure_callback: string | null;
  callback_of: string | null;
  schedule_id: string | null;
  retry: RetryPolicy | null;
}

/** GET /tasks/{id}?include=body: the task with what it stored. */
export interface TaskWithBody extends Task {
  body_base64: string | null;
  /** The body as text, when it is valid UTF-8. */
  body: string | null;
  content_type: string | null;
  /** The headers passed through to the hook. */
  headers: Record<string, string>;
}

/** How the wait between attempts grows, within the deployment's MIN_RETRY_DELAY..MAX_RETRY_DELAY. */
export interface RetryPolicy {
  backoff: 'exponential' | 'linear' | 'fixed';
  min_delay: number;
  max_delay: number;
}

export interface Attempt {
  number: number;
  started_at: string;
  duration_ms: number;
  status_code: number | null;
  error: string | null;
  response: string | null;
}

export interface Throughput { enqueued: number; attempts: number; completed: number; failed: number }

export interface Stats {
  tasks: Record<TaskStatus, number>;
  throughput: { last_minute: Throughput; last_hour: Throughput; last_day: Throughput };
  oldest_overdue_seconds: number | null;
  circuits: { open: number; half_open: number; failing: number };
}

/** A task to enqueue with POST /batch; a Uint8Array body is sent as body_base64. */
export interface BatchItem {
  url: string;
  method?: Method;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  body_base64?: string;
  timeout?: number;
  delay?: number;
  max_retries?: number;
  /** The first attempt's time: unix seconds or an ISO 8601 instant (not with delay). */
  not_before?: number | string;
  idempotency_key?: string;
  flow_key?: string;
  callback?: string;
  failure_callback?: string;
  retry_backoff?: RetryPolicy['backoff'];
  retry_min_delay?: number;
  retry_max_delay?: number;
}

export interface FlowLimits {
  rate?: number | null;
  period?: number;
  parallelism?: number | null;
  retry_backoff?: RetryPolicy['backoff'];
  retry_min_delay?: number;
  retry_max_delay?: number;
}

export interface Flow {
  key: string;
  rate: number | null;
  period: number;
  parallelism: number | null;
  paused: boolean;
  retry: RetryPolicy | null;
  updated_at: string;
}

/** GET /flows/{key}: a flow and what it is doing now. */
export interface FlowState extends Flow { running: number; started_in_period: number }

export interface Circuit {
  destination: string;
  state: 'closed' | 'open' | 'half_open';
  failures: number;
  since: string;
  next_probe_at: string | null;
}

export interface Topic {
  name: string;
  endpoints: string[];
  updated_at: string;
}

export interface ScheduleInput {
  url: string;
  method?: Method;
  headers?: Record<string, string>;
  body?: string;
  body_base64?: string;
  timeout?: number;
  max_retries?: number;
  flow_key?: string;
  cron: string;
  timezone?: string;
  name?: string;
}

export interface Schedule {
  id: string;
  name: string | null;
  cron: string;
  timezone: string;
  url: string;
  method: Method;
  timeout: number;
  max_retries: number;
  flow_key: string | null;
  /** The template's headers, Content-Type included. */
  headers: Record<string, string>;
  paused: boolean;
  next_run_at: string | null;
  last_run_at: string | null;
  last_task: { id: string; status: string | null } | null;
  created_at: string;
}

/** PATCH /schedules/{id}: what to change (null clears name, flow_key and body; headers replace all). */
export interface SchedulePatch {
  cron?: string;
  timezone?: string;
  name?: string | null;
  url?: string;
  method?: Method;
  headers?: Record<string, string>;
  body?: string | null;
  body_base64?: string;
  timeout?: number;
  max_retries?: number;
  flow_key?: string | null;
}

/** GET /schedules/{id}: a schedule with its template's body. */
export interface ScheduleDetail extends Schedule {
  body_base64: string | null;
  body: string | null;
}

/** What a callback URL receives when a task completes or fails for good. */
export interface CallbackBody {
  type: 'task.completed' | 'task.failed';
  at: string;
  task: { id: string; url: string; method: string; status: TaskStatus; attempts: number; last_status_code: number | null; last_error: string | null; response_base64: string | null };
}
