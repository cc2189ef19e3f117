// The hub's data directory (0700): hub.db (SQLite, WAL), ca/, tls/. Created on first use, by
// `pi-hub serve` or by any CLI command, so the order in which an operator runs them does not matter.
import { accessSync, constants, statSync } from 'node:fs';
import { ensureDir } from '../shared/fs.js';
import { join } from 'node:path';
import { CliError, ConfigError } from '../shared/errors.js';
import { CertificateAuthority } from './ca/authority.js';
import { ensureCa } from './ca/files.js';
import { SqliteStore } from './store/sqlite-store.js';
import type { HubStore } from './store/store.js';

export interface HubData {
  dataDir: string;
  store: HubStore;
  trustDomain: string;
  loadCa(passphrase: string | undefined): Promise<CertificateAuthority>;
}

export async function openHubData(dataDir: string, trustDomainDefault: string): Promise<HubData> {
  try {
    ensureDir(dataDir, 0o700);
    if (!statSync(dataDir).isDirectory()) throw new ConfigError(`data directory ${dataDir} is not a directory`);
    accessSync(dataDir, constants.R_OK | constants.W_OK | constants.X_OK);
  } catch (err) {
    if (err instanceof CliError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(`cannot use data directory ${dataDir}: ${code === 'EACCES' || code === 'EPERM' ? 'permission denied' : (err as Error).message}`,
      'run as the user that owns it (pi-hub), or pass --data-dir');
  }
  let store: HubStore;
  try {
    store = SqliteStore.open(join(dataDir, 'hub.db'));
  } catch (err) {
    throw new ConfigError(`cannot open ${join(dataDir, 'hub.db')}: ${(err as Error).message}`);
  }
  let trustDomain = store.getSetting('trust_domain');
  if (!trustDomain) {
    trustDomain = trustDomainDefault;
    store.setSetting('trust_domain', trustDomain);
  }
  await ensureCa(dataDir);
  const td = trustDomain;
  return { dataDir, store, trustDomain: td, loadCa: (passphrase) => CertificateAuthority.load(dataDir, td, passphrase) };
}
