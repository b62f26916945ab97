import { z } from '@hono/zod-openapi';
import type { Enqueued, KeyGone } from '../tasks/enqueue';
import { TaskSchema, taskJson } from './schemas';

// What an enqueue answers per task when an Idempotency-Key was used before (see tasks/idempotent.ts).

/** A task an Idempotency-Key made that no longer exists (in a batch's or a publish's answer). */
const GoneSchema = z
  .object({
    id: z.string().openapi({ description: 'the task the key made' }),
    gone: z.literal(true),
    idempotency_key: z.string(),
    key_expires_at: z.string().openapi({ description: 'until when the key is remembered (IDEMPOTENCY_TTL after its enqueue)' }),
  })
  .openapi('GoneTask', { description: 'The key was used before and its task no longer exists (completed and expired, or deleted): nothing new was made' });

const goneJson = (g: KeyGone) => ({ id: g.id, gone: true as const, idempotency_key: g.key, key_expires_at: new Date(g.expiresAt).toISOString() });
/** A batch item's or a publish's task: the task, or that its key's task is gone. */
export const enqueuedJson = (e: Enqueued) => ('gone' in e ? goneJson(e.gone) : taskJson(e.task));
export const EnqueuedSchema = z.union([TaskSchema, GoneSchema]);

/** POST / with a key whose task is gone: 409, naming the task (as Cloud Tasks answers a recently used task name). */
export const KeyUsedSchema = z
  .object({ error: z.object({ code: z.literal('idempotency_key_used'), message: z.string(), task_id: z.string(), key_expires_at: z.string() }) })
  .openapi('KeyUsed');
export function keyUsedJson(g: KeyGone) {
  const until = new Date(g.expiresAt).toISOString();
  return {
    error: {
      code: 'idempotency_key_used' as const,
      message: `Idempotency-Key ${JSON.stringify(g.key)} already made task ${g.id}, which no longer exists (it finished and expired, or was deleted); nothing new was made. The key is remembered until ${until}.`,
      task_id: g.id,
      key_expires_at: until,
    },
  };
}

