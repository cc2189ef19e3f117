// What pi-hub's commands share: the data directory flag, output, users by name, tables.
import { EXIT, CliError } from '../../shared/errors.js';
import { resolveHubConfig } from '../config.js';
import { type HubData, openHubData } from '../data-dir.js';

export const DATA_DIR = { 'data-dir': { type: 'string' } } as const;
export const out = (s: string) => process.stdout.write(s.endsWith('\n') ? s : s + '\n');
export const note = (s: string) => process.stderr.write(s + '\n');

export async function data(dir: string | undefined): Promise<HubData> {
  const cfg = resolveHubConfig({ dataDir: dir });
  return openHubData(cfg.dataDir, cfg.trustDomain);
}

export function userByName(d: HubData, name: string) {
  const u = d.store.users.byName(name);
  if (!u) throw new CliError(`unknown user ${name}`, EXIT.FAILURE, 'add one: pi-hub user add NAME');
  return u;
}

export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

export const iso = (ms: number | null) => (ms === null ? '-' : new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z'));
