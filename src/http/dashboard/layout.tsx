/** @jsxImportSource hono/jsx */
import { raw } from 'hono/html';
import type { Child } from 'hono/jsx';
import { STYLE } from './style';

export type Tab = 'tasks' | 'schedules' | 'topics';
const TABS: [Tab, string, string][] = [['tasks', 'Tasks', '/dashboard'], ['schedules', 'Schedules', '/dashboard/schedules'], ['topics', 'Topics', '/dashboard/topics']];

export function Layout({ title, children, authed, tab, notice }: { title: string; children: Child; authed: boolean; tab?: Tab; notice?: string }) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{`${title} · Torque`}</title>
        {/* raw: as JSX text the stylesheet's quotes would be escaped, and the font rule dropped */}
        <style>{raw(STYLE)}</style>
      </head>
      <body>
        <header>
          <a href="/dashboard" class="brand">Torque</a>
          <nav class="tabs">
            {TABS.map(([id, label, href]) => (
              <a href={href} class={tab === id ? 'on' : ''} aria-current={tab === id ? 'page' : undefined}>{label}</a>
            ))}
          </nav>
          {authed && (
            <form method="post" action="/dashboard/logout">
              <button class="link">Sign out</button>
            </form>
          )}
        </header>
        <main>
          {notice && <p class="notice" role="status">{notice}</p>}
          {children}
        </main>
      </body>
    </html>
  );
}

export function Login({ error }: { error?: string }) {
  return (
    <section class="login">
      <h1>Sign in</h1>
      <p>This Torque requires an API key. The dashboard shows your app's tasks only.</p>
      {error && <p class="error" role="alert">{error}</p>}
      <form method="post" action="/dashboard/login">
        <label>
          API key <input name="api_key" type="password" autocomplete="off" required placeholder="tq_…" />
        </label>
        <button>Sign in</button>
      </form>
    </section>
  );
}
