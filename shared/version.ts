import { readFileSync } from 'node:fs';
import { BUNDLE } from './bundle.js';

/** The package version: the bundle's, else read once from package.json (two levels above dist/shared/). */
export const VERSION: string = BUNDLE?.version ?? (() => {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
})();
