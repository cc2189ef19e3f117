// The layout's rules (docs/ARCHITECTURE.md, "Layout and import rules"), checked on the sources: shared/
// imports neither program, agent/ and broker/ never import each other, bench/ and test/ never import
// each other (what both need is in harness/), the pure cores import no I/O, and no module imports
// itself through a cycle.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, it } from 'node:test';
import { ROOT } from '../helpers/process.js';

const SOURCE_DIRS = ['shared', 'agent', 'broker', 'scripts', 'bench', 'harness'];
const PURE = [
  'shared/topics.ts', 'shared/limits.ts', 'shared/schemas.ts', 'shared/results.ts',
  'broker/mqtt/acl.ts', 'broker/mqtt/mountpoint.ts', 'broker/mqtt/persistent-sessions.ts',
  'agent/modules/schema.ts', 'agent/modules/params.ts', 'agent/gpio/pins.ts', 'agent/gpio/select.ts', 'agent/proc-parse.ts',
];
const IO = /^(node:)?(fs|fs\/promises|net|tls|http|https|child_process|dgram|dns)$|^(better-sqlite3|ws|mqtt|aedes|systeminformation|argon2)(\/|$)/;

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir)).flatMap((name) => {
    const rel = join(dir, name);
    if (statSync(join(ROOT, rel)).isDirectory()) return sources(rel);
    return name.endsWith('.ts') && !name.endsWith('.d.ts') ? [rel] : [];
  });
}

/** Every `import … from '…'` and `export … from '…'` of a file, type-only ones included. */
function importsOf(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  return [...text.matchAll(/^\s*(?:import|export)\b[^'";]*?from\s+'([^']+)'|^\s*import\s+'([^']+)'|import\('([^']+)'\)/gm)].map((m) => m[1] ?? m[2] ?? m[3]!);
}

/** A relative import as a repository path (`../shared/x.js` → `shared/x.ts`), or null for a package. */
function resolved(from: string, spec: string): string | null {
  if (!spec.startsWith('.')) return null;
  return normalize(join(dirname(from), spec)).replace(/\.js$/, '.ts');
}

const files = SOURCE_DIRS.flatMap(sources);
const graph = new Map(files.map((f) => [f, importsOf(f)]));
const top = (f: string) => f.split('/')[0]!;

describe('layout and import rules', () => {
  it('finds the sources', () => {
    assert.ok(files.length > 60, `${files.length} files`);
    for (const p of PURE) assert.ok(graph.has(p), `${p} exists`);
  });

  const rows: Array<[string, string, string[]]> = [
    ['shared/', 'shared', ['agent', 'broker', 'bench', 'test', 'scripts']],
    ['agent/', 'agent', ['broker', 'bench', 'test']],
    ['broker/', 'broker', ['agent', 'bench', 'test']],
    ['bench/', 'bench', ['test']],
    ['harness/ (child processes for tests and bench)', 'harness', ['agent', 'broker', 'bench', 'test', 'shared']],
  ];
  for (const [name, area, forbidden] of rows) {
    it(`${name} imports nothing from ${forbidden.join(', ')}`, () => {
      const bad = [...graph].filter(([f]) => top(f) === area).flatMap(([f, specs]) =>
        specs.map((s) => resolved(f, s)).filter((r): r is string => r !== null && forbidden.includes(top(r))).map((r) => `${f} → ${r}`));
      assert.deepEqual(bad, []);
    });
  }

  it('test/ imports nothing from bench/', () => {
    const tests = sources('test');
    const bad = tests.flatMap((f) => importsOf(f).map((s) => resolved(f, s)).filter((r) => r !== null && top(r) === 'bench').map((r) => `${f} → ${r}`));
    assert.deepEqual(bad, []);
  });

  it('the pure cores import no I/O, also not through what they import', () => {
    const bad: string[] = [];
    const seen = new Set<string>();
    const visit = (f: string, path: string[]) => {
      if (seen.has(f)) return;
      seen.add(f);
      for (const s of graph.get(f) ?? []) {
        const r = resolved(f, s);
        if (r === null) { if (IO.test(s)) bad.push(`${[...path, f].join(' → ')} imports ${s}`); } else visit(r, [...path, f]);
      }
    };
    for (const p of PURE) { seen.clear(); visit(p, []); }
    assert.deepEqual(bad, []);
  });

  it('no import cycle', () => {
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const walk = (f: string, stack: string[]) => {
      if (state.get(f) === 'done') return;
      if (state.get(f) === 'open') { cycles.push([...stack.slice(stack.indexOf(f)), f].map((x) => relative('.', x)).join(' → ')); return; }
      state.set(f, 'open');
      for (const s of graph.get(f) ?? []) {
        const r = resolved(f, s);
        if (r !== null && graph.has(r)) walk(r, [...stack, f]);
      }
      state.set(f, 'done');
    };
    for (const f of files) walk(f, []);
    assert.deepEqual(cycles, []);
  });
});
