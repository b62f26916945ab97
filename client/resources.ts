// Flows, topics, schedules and destinations: `torque.flows.put(...)`, `torque.topics.publish(...)`.
import { type Call, type TaskOptions, taskRequest } from './request.ts';
import type { Circuit, Flow, FlowLimits, FlowState, Schedule, ScheduleDetail, ScheduleInput, SchedulePatch, Task, Topic } from './types.ts';

const seg = encodeURIComponent;

/** Rate, parallelism and pause per flow key (docs/flow-control.md). */
export class Flows {
  readonly #call: Call;
  constructor(call: Call) {
    this.#call = call;
  }
  put(key: string, limits: FlowLimits): Promise<Flow> {
    return this.#call('PUT', `/flows/${seg(key)}`, { body: JSON.stringify(limits), headers: { 'content-type': 'application/json' } });
  }
  get(key: string): Promise<FlowState> {
    return this.#call('GET', `/flows/${seg(key)}`);
  }
  /** 1,000 flows a page in key order; pass `next_after` as `after` for the next page. */
  list(opts: { after?: string } = {}): Promise<{ flows: Flow[]; next_after: string | null }> {
    return this.#call('GET', '/flows', { query: opts });
  }
  delete(key: string): Promise<void> {
    return this.#call('DELETE', `/flows/${seg(key)}`);
  }
  pause(key: string): Promise<Flow> {
    return this.#call('POST', `/flows/${seg(key)}/pause`);
  }
  resume(key: string): Promise<Flow> {
    return this.#call('POST', `/flows/${seg(key)}/resume`);
  }
}

/** Fan-out: a publish makes one task per endpoint. */
export class Topics {
  readonly #call: Call;
  constructor(call: Call) {
    this.#call = call;
  }
  put(name: string, endpoints: string[]): Promise<Topic> {
    return this.#call('PUT', `/topics/${seg(name)}`, { body: JSON.stringify({ endpoints }), headers: { 'content-type': 'application/json' } });
  }
  get(name: string): Promise<Topic> {
    return this.#call('GET', `/topics/${seg(name)}`);
  }
  async list(): Promise<Topic[]> {
    return (await this.#call<{ topics: Topic[] }>('GET', '/topics')).topics;
  }
  delete(name: string): Promise<void> {
    return this.#call('DELETE', `/topics/${seg(name)}`);
  }
  /** One task per endpoint, in endpoint order, each with this body and these options. */
  async publish(name: string, body?: string | Uint8Array | null, opts: Omit<TaskOptions, 'method'> & { method?: TaskOptions['method'] } = {}): Promise<Task[]> {
    const { query, headers } = taskRequest(opts);
    return (await this.#call<{ tasks: Task[] }>('POST', `/topics/${seg(name)}`, { body: (body ?? undefined) as BodyInit | undefined, headers, query })).tasks;
  }
}

/** Recurring tasks from cron expressions. */
export class Schedules {
  readonly #call: Call;
  constructor(call: Call) {
    this.#call = call;
  }
  create(input: ScheduleInput): Promise<Schedule> {
    return this.#call('POST', '/schedules', { body: JSON.stringify(input), headers: { 'content-type': 'application/json' } });
  }
  /** One schedule with its template's body. */
  get(id: string): Promise<ScheduleDetail> {
    return this.#call('GET', `/schedules/${seg(id)}`);
  }
  /** Changes what is given (cron, time zone, name, or the template); the rest stays. */
  update(id: string, patch: SchedulePatch): Promise<ScheduleDetail> {
    return this.#call('PATCH', `/schedules/${seg(id)}`, { body: JSON.stringify(patch), headers: { 'content-type': 'application/json' } });
  }
  /** 100 schedules a page; pass `next_cursor` as `cursor` for the next page. */
  list(opts: { cursor?: string } = {}): Promise<{ schedules: Schedule[]; next_cursor: string | null }> {
    return this.#call('GET', '/schedules', { query: opts });
  }
  delete(id: string): Promise<void> {
    return this.#call('DELETE', `/schedules/${seg(id)}`);
  }
  pause(id: string): Promise<Schedule> {
    return this.#call('POST', `/schedules/${seg(id)}/pause`);
  }
  resume(id: string): Promise<Schedule> {
    return this.#call('POST', `/schedules/${seg(id)}/resume`);
  }
}

/** Circuit breakers of the destinations that failed lately. */
export class Destinations {
  readonly #call: Call;
  constructor(call: Call) {
    this.#call = call;
  }
  async list(): Promise<Circuit[]> {
    return (await this.#call<{ destinations: Circuit[] }>('GET', '/destinations')).destinations;
  }
  /** Closes a circuit now; its waiting tasks go when next due. */
  reset(destination: string): Promise<void> {
    return this.#call('POST', `/destinations/${seg(destination)}/reset`);
  }
}
