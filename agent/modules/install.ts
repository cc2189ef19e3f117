// Puts the shipped modules (the repository's modules/: core.json, doctor.json, module.schema.json, …)
// into <config-dir>/modules. An existing file is never overwritten: these are the owner's conffiles.
import { constants, existsSync } from 'node:fs';
import { chmod, copyFile, readdir } from 'node:fs/promises';
import { BUNDLE } from '../../shared/bundle.js';
import { ensureDir } from '../../shared/fs.js';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** dist/agent/modules/install.js → <repo>/modules/; the .deb's bundle → /usr/share/pi-agent/modules/. */
export const SHIPPED_MODULES_DIR = fileURLToPath(new URL(BUNDLE?.shippedModules ?? '../../../modules/', import.meta.url));

export interface InstallResult { installed: string[]; kept: string[] }

export async function installDefaultModules(configDir: string, sourceDir: string = SHIPPED_MODULES_DIR): Promise<InstallResult> {
  const target = join(configDir, 'modules');
  // Explicit chmod: the umask must not make the directory unreadable to `pi-agent modules` users.
  const existed = existsSync(target);
  ensureDir(target, 0o755);
  if (!existed) await chmod(target, 0o755);
  const result: InstallResult = { installed: [], kept: [] };
  const names = (await readdir(sourceDir)).filter((n) => n.endsWith('.json')).sort();
  for (const name of names) {
    const dest = join(target, name);
    try {
      await copyFile(join(sourceDir, name), dest, constants.COPYFILE_EXCL);
      await chmod(dest, 0o644);
      result.installed.push(name);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      result.kept.push(name);
    }
  }
  return result;
}
