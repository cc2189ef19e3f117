// Versions of what was measured, for the report: a number means little without them.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);

/** The installed version of a dependency (its package.json may be hidden by "exports"). */
export function packageVersion(name: string): string {
  try {
    let dir = dirname(require.resolve(name));
    while (dir !== dirname(dir)) {
      try {
        const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
        if (pkg.name === name) return pkg.version ?? 'unknown';
      } catch { /* no package.json at this level */ }
      dir = dirname(dir);
    }
  } catch { /* not installed */ }
  return 'unknown';
}
