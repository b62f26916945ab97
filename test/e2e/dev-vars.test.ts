// A developer's `.dev.vars` (the README suggests `AUTHENTICATE=true` there to try keys) must not
// change what the end-to-end tests run against: each test sets the configuration it needs.
import assert from 'node:assert/strict';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { DevServer, serveForSuite, waitFor } from './dev-server.ts';

// Written only when the developer has none (and removed after); an existing one is used as it is.
const ours = !existsSync('.dev.vars');
const server = new DevServer();

describe('a developer .dev.vars', { timeout: 180_000 }, () => {
  // Registered first, so the file is there before the server starts and gone after it stops.
  before(() => {
    if (ours) writeFileSync('.dev.vars', 'AUTHENTICATE=true\nBLOCK_PRIVATE_ADDRESSES=true\nMAX_RETRIES=abc\n');
  });
  after(() => {
    if (ours) rmSync('.dev.vars', { force: true });
  });
  const suite = serveForSuite(server);

  it('is ignored by the test dev server: no key needed, hooks on 127.0.0.1 allowed, config valid', async () => {
    const res = await fetch(`${server.base}/?${new URLSearchParams({ url: `${suite.hooks.url}/h/devvars/ok` })}`, { method: 'POST', body: 'x=1' });
    const text = await res.text();
    assert.equal(res.status, 201, text);
    const { id } = JSON.parse(text) as { id: string };
    const task = await waitFor('the task to complete', async () => {
      const t = (await (await fetch(`${server.base}/tasks/${id}`)).json()) as { status: string };
      return t.status === 'completed' ? t : undefined;
    });
    assert.equal(task.status, 'completed');
  });
});
