// `pi-hub ca …`: the certificate authority's public part, its keys at rest, and adopting another CA.
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { parseFlags } from '../../shared/args.js';
import type { Command } from '../../shared/commands.js';
import { CliError, EXIT, UsageError } from '../../shared/errors.js';
import { fingerprint } from '../../shared/pki.js';
import { writeFileAtomic } from '../../shared/fs.js';
import { readTextFile } from '../../shared/read-file.js';
import { makeCrl } from '../ca/crl.js';
import { caIsLocked, caPaths } from '../ca/files.js';
import { importCa } from '../ca/import.js';
import { setCaLock } from '../ca/lock.js';
import { caPassphrase, readPassphraseFile, resolveHubConfig } from '../config.js';
import { DATA_DIR, data, note, out } from './common.js';

const show = (what: 'fingerprint' | 'root'): Command => ({
  path: ['ca', what],
  args: '',
  summary: what === 'fingerprint' ? "the root CA's SHA-256 fingerprint (pi-agent connect --fingerprint)" : 'the root CA certificate, PEM',
  async run(args) {
    const { values } = parseFlags(args, DATA_DIR);
    const d = await data(values['data-dir']);
    const rootPem = readFileSync(caPaths(d.dataDir).rootCert, 'utf8');
    out(what === 'root' ? rootPem : fingerprint(rootPem));
    return 0;
  },
});

const lock = (sub: 'lock' | 'unlock'): Command => ({
  path: ['ca', sub],
  args: '[--passphrase-file F]',
  summary: sub === 'lock' ? 'encrypt the CA keys at rest (scrypt, AES-256)' : 'store the CA keys unencrypted again',
  details: 'The passphrase: --passphrase-file, else PI_HUB_CA_PASSPHRASE, PI_HUB_CA_PASSPHRASE_FILE, hub.json "caPassphraseFile" or the systemd credential "ca-passphrase".',
  async run(args) {
    const { values } = parseFlags(args, { ...DATA_DIR, 'passphrase-file': { type: 'string' } });
    const d = await data(values['data-dir']);
    const pass = values['passphrase-file'] ? readPassphraseFile(values['passphrase-file']) : resolveHubConfig({ dataDir: values['data-dir'] }).caPassphrase;
    if (!pass) throw new UsageError('no passphrase: set PI_HUB_CA_PASSPHRASE or pass --passphrase-file FILE');
    if (sub === 'lock' && pass.length < 12) throw new UsageError('the passphrase is too short (at least 12 characters)');
    const changes = setCaLock(d.dataDir, sub === 'lock', pass);
    if (changes.length === 0) out(`the CA keys are already ${sub}ed`);
    for (const change of ['locked', 'unlocked'] as const) {
      const n = changes.filter((c) => c.change === change).length;
      if (n > 0) out(`${change} ${n} CA key(s)`);
    }
    const upgraded = changes.filter((c) => c.change === 're-encrypted').length;
    if (upgraded > 0) out(`re-encrypted ${upgraded} CA key(s) locked the old way (PBKDF2, 2,048 iterations) with scrypt`);
    if (changes.length > 0) {
      d.store.audit.add({
        userId: null, actor: 'cli', deviceSerial: null, action: `ca.${sub}`,
        detail: { files: changes.map((c) => ({ file: relative(d.dataDir, c.file), change: c.change })) },
      });
    }
    if (sub === 'lock') note('pi-hub serve now needs the passphrase: PI_HUB_CA_PASSPHRASE, PI_HUB_CA_PASSPHRASE_FILE or the systemd credential "ca-passphrase"');
    return 0;
  },
});

const crl: Command = {
  path: ['ca', 'crl'],
  args: '[--out FILE]',
  summary: 'a CRL of every revoked certificate, signed now (PEM), for Mosquitto, nginx or Caddy',
  details: 'The running hub also serves one at GET /api/v1/ca/crl and writes <data-dir>/ca/crl.pem after every revocation.',
  async run(args) {
    const { values } = parseFlags(args, { ...DATA_DIR, out: { type: 'string' } });
    const cfg = resolveHubConfig({ dataDir: values['data-dir'] });
    const d = await data(values['data-dir']);
    const { pem } = await makeCrl(await d.loadCa(cfg.caPassphrase), d.store);
    if (values.out) {
      writeFileAtomic(values.out, pem, 0o644);
      note(`wrote ${values.out}`);
    } else {
      out(pem);
    }
    return 0;
  },
};

export const caCommands: Command[] = [show('fingerprint'), show('root'), crl, lock('lock'), lock('unlock'), {
  path: ['ca', 'import'],
  args: '--cert F --key F [--force]',
  summary: 'adopt an existing CA: a root, or an intermediate with its chain',
  async run(args) {
    const { values } = parseFlags(args, { ...DATA_DIR, cert: { type: 'string' }, key: { type: 'string' }, force: { type: 'boolean' } });
    if (!values.cert || !values.key) throw new UsageError('ca import needs --cert FILE and --key FILE');
    const certPem = readTextFile(values.cert, '--cert', EXIT.FAILURE);
    const keyPem = readTextFile(values.key, '--key', EXIT.FAILURE);
    const d = await data(values['data-dir']);
    if (d.store.devices.list().length > 0 && !values.force) {
      throw new CliError('devices are enrolled with the current CA; importing another one makes their certificates invalid', EXIT.FAILURE, 'pass --force to import anyway (every Pi must then connect again)');
    }
    const wasLocked = caIsLocked(d.dataDir);
    const r = await importCa(d.dataDir, certPem, keyPem, caPassphrase());
    d.store.audit.add({ userId: null, actor: 'cli', deviceSerial: null, action: 'ca.import', detail: { kind: r.kind, fingerprint: r.fingerprint, force: values.force ?? false } });
    if (wasLocked) note('note: the CA keys were locked; the imported ones are stored unencrypted: run pi-hub ca lock');
    out(`imported a ${r.kind} CA; root fingerprint ${r.fingerprint}`);
    note('restart pi-hub: it issues a new server certificate from the imported CA at start');
    return 0;
  },
}];
