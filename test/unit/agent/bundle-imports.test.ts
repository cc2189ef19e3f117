// What keeps the packaged agent's bundle small (scripts/deb/bundle-agent.ts): esbuild tree-shakes zod
// only through a namespace import — `import { z } from 'zod'` pulls zod's whole `z` object, locales
// and all, into the agent (448 KB of its 1.6 MB then, 101 KB now) — and systeminformation is loaded part
// by part, never through its index, which loads all twenty of its parts.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT } from '../../helpers/process.js';

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir)).flatMap((name) => {
    const rel = join(dir, name);
    if (statSync(join(ROOT, rel)).isDirectory()) return sources(rel);
    return name.endsWith('.ts') && !name.endsWith('.d.ts') ? [rel] : [];
  });
}

test('the agent and shared code import zod as a namespace and systeminformation by its parts', () => {
  const bad = ['agent', 'shared'].flatMap(sources).flatMap((file) => {
    const text = readFileSync(join(ROOT, file), 'utf8');
    return [
      ...[...text.matchAll(/^import \{[^}]*\} from 'zod';$/gm)].map((m) => `${file}: ${m[0]} (use import * as z from 'zod')`),
      ...[...text.matchAll(/^import (?!type )[^;]*from 'systeminformation';|(?<!typeof )import\('systeminformation'\)/gm)].map((m) => `${file}: ${m[0]} (import systeminformation/lib/<part>.js)`),
    ];
  });
  assert.deepEqual(bad, []);
});
