// docs/development.md's Layout section is the map of src/: every source file is named there (by
// its name without the extension), and every src/ path it names exists, so a move or a new file
// that forgets the map fails here.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { describe, it } from 'node:test';

const doc = readFileSync('docs/development.md', 'utf8');
const start = doc.indexOf('\n## Layout');
const end = doc.indexOf('\n## ', start + 1);
const layout = doc.slice(start, end < 0 ? undefined : end);
const sources = readdirSync('src', { recursive: true, encoding: 'utf8' }).filter((f) => /\.tsx?$/.test(f) && !f.endsWith('.d.ts'));

describe('the layout map in docs/development.md', () => {
  it('has a Layout section', () => assert.ok(layout.length > 100));

  it('names every source file', () => {
    const named = (f: string) => new RegExp(`[\`{,/]${basename(f).replace(/\.tsx?$/, '').replace(/[-.]/g, '\\$&')}[\`},.]`).test(layout);
    assert.deepEqual(sources.filter((f) => !named(f)).map((f) => join('src', f)), []);
  });

  it('names only paths that exist', () => {
    const paths = [...layout.matchAll(/`(src\/[\w/.-]+)`/g)].map((m) => m[1]);
    assert.ok(paths.length > 10);
    assert.deepEqual(paths.filter((p) => !existsSync(p)), []);
  });
});
