import app from './app';
import { handleQueue, type TaskMessage } from './queue';
import { sweep } from './scheduled';

export default {
  fetch: app.fetch,
  queue: handleQueue,
  async scheduled(_controller, env) {
    const report = await sweep(env);
    if (report.recovered || report.resent || report.deleted) console.log('sweep', JSON.stringify(report));
  },
} satisfies ExportedHandler<Env, TaskMessage>;
