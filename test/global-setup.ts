import type { TestProject } from 'vitest/node';
import { startHookServer } from './hook-server';
import { quietRuntime } from './quiet-runtime';

declare module 'vitest' {
  export interface ProvidedContext {
    hookUrl: string;
  }
}

export default async function setup(project: TestProject) {
  // TORQUE_TEST_LOUD=1 shows the runtime's own reports too.
  const loud = process.env.TORQUE_TEST_LOUD ? [] : [quietRuntime(process.stderr), quietRuntime(process.stdout)];
  const hooks = await startHookServer();
  project.provide('hookUrl', hooks.url);
  return async () => {
    hooks.server.closeAllConnections();
    await new Promise((r) => hooks.server.close(r));
    for (const undo of loud) undo();
  };
}
