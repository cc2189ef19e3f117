// The agent as the .deb installs it, for the bench: `npm run deb`'s code builds the pi-agent package
// into a temporary directory and dpkg-deb unpacks it there, so the bench runs the very file
// /usr/lib/pi-agent/pi-agent.mjs of an installation. BENCH_AGENT_BUNDLE names another (a real
// installation's) instead.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type PreparedBundle = { file: string; source: string; remove(): void } | { skipped: string };

export async function prepareAgentBundle(given: string | null): Promise<PreparedBundle> {
  if (given) return existsSync(given) ? { file: given, source: given, remove: () => {} } : { skipped: `BENCH_AGENT_BUNDLE=${given} does not exist` };
  const dir = mkdtempSync(join(tmpdir(), 'pifleet-bench-bundle-'));
  try {
    const { buildDebs } = await import('../scripts/deb/build.js');
    const [deb] = await buildDebs({ outDir: dir, only: ['pi-agent'] });
    execFileSync('dpkg-deb', ['-x', deb!.file, join(dir, 'root')]);
    return {
      file: join(dir, 'root', 'usr', 'lib', 'pi-agent', 'pi-agent.mjs'),
      source: `${deb!.file.split('/').pop()} unpacked (${(deb!.bytes / 1024).toFixed(0)} KiB .deb)`,
      remove: () => rmSync(dir, { recursive: true, force: true }),
    };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    return { skipped: `could not build the pi-agent package: ${(err as Error).message.split('\n')[0]}` };
  }
}
