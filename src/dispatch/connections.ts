// One budget for an invocation's outgoing connections. Workers let an invocation have six
// connections waiting for response headers; a seventh waits in the runtime's queue until one of
// them gets its headers (https://developers.cloudflare.com/workers/platform/limits/#simultaneous-open-connections).
// The calls that count, as that page lists them: fetch(), KV, Cache and R2 calls, Queues send()
// and sendBatch(), connect() sockets and outbound WebSockets. D1 is not on the list (D1 has its
// own limit: one query at a time per database), and neither are Durable Object calls; Torque
// counts those anyway, since a stub call is a request to another machine.
//
// Why it matters: a hook's fetch that sat in the runtime's queue would go out after its start
// window was checked, possibly after a DELETE answered (see ../start-window.ts). So every outgoing
// call of an invocation (hooks, queue sends, ALERT_URL, flow gates) takes a connection from this
// budget first; a hook takes its connection BEFORE it checks its window, and its fetch then goes
// out at once.

import { databaseQueueNames } from '../tasks/queue-messages';

/** Connections an invocation may have waiting for headers (the platform's limit). */
const CONNECTIONS = 6;

export type Connections = ReturnType<typeof connections>;

/** A counting semaphore, first come first served. */
export function connections(limit = CONNECTIONS) {
  let used = 0;
  const waiting: (() => void)[] = [];
  const acquire = (): Promise<void> => {
    if (used < limit) {
      used++;
      return Promise.resolve();
    }
    return new Promise((r) => waiting.push(r));
  };
  const release = () => {
    const next = waiting.shift();
    if (next) next();
    else used--;
  };
  const use = async <T>(work: () => Promise<T>): Promise<T> => {
    await acquire();
    try {
      return await work();
    } finally {
      release();
    }
  };
  return {
    acquire,
    release,
    use,
    /** fetch through the budget: the connection is given back when the response headers came. */
    fetch: (input: RequestInfo | URL, init?: RequestInit) => use(() => fetch(input, init)),
    get inUse() {
      return used;
    },
  };
}

function queueThrough(q: Queue, budget: Connections): Queue {
  return {
    send: (body: unknown, opts?: QueueSendOptions) => budget.use(() => q.send(body, opts)),
    sendBatch: (messages: Iterable<MessageSendRequest>, opts?: QueueSendBatchOptions) => budget.use(() => q.sendBatch(messages, opts)),
  } as Queue;
}

/** A Durable Object namespace whose stubs' calls each take a connection while they wait for their answer. */
function gatesThrough(ns: Env['FLOW_GATES'], budget: Connections): Env['FLOW_GATES'] {
  return new Proxy(ns, {
    get(target, prop) {
      const value = Reflect.get(target, prop);
      if (prop !== 'get') return typeof value === 'function' ? value.bind(target) : value;
      return (...args: Parameters<typeof target.get>) => {
        const stub = target.get(...args);
        return new Proxy(stub, {
          get(s, p) {
            const v = Reflect.get(s, p);
            if (typeof v !== 'function') return v;
            // (Reflect.apply: an RPC method would take `.apply` for the name of a remote method.)
            return (...a: unknown[]) => budget.use(async () => Reflect.apply(v, s, a));
          },
        });
      };
    },
  });
}

/** The bindings an invocation calls out through, each call taking a connection from `budget`. */
export function throughBudget(env: Env, budget: Connections): Env {
  const databaseQueues = Object.fromEntries(databaseQueueNames(env).map((k) => [k, queueThrough((env as unknown as Record<string, Queue>)[k], budget)]));
  return { ...env, TASKS: queueThrough(env.TASKS, budget), TASKS_BULK: queueThrough(env.TASKS_BULK, budget), ...databaseQueues, FLOW_GATES: gatesThrough(env.FLOW_GATES, budget) };
}
