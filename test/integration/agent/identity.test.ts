// This Pi's files, read through one module: key, certificate and chain (the key must belong to the
// certificate), and status.json (whatever is in it, `pi-agent status` never crashes on it).
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { agentPaths } from '../../../agent/config.js';
import { readCredentials, readDaemonState, writeDaemonState, writeIdentity } from '../../../agent/identity.js';
import { ConfigError } from '../../../shared/errors.js';
import { createLogger } from '../../../shared/log.js';
import { foreignCa, type Pem } from '../../helpers/pki.js';

let root: string;
let a: Pem;
let b: Pem;
before(async () => {
  root = mkdtempSync(join(tmpdir(), 'pifleet-identity-'));
  [a, b] = await Promise.all([foreignCa('CN=a'), foreignCa('CN=b')]);
});
after(() => rmSync(root, { recursive: true, force: true }));

let n = 0;
function freshPaths() {
  const dir = join(root, `c${n++}`);
  mkdirSync(join(dir, 'state'), { recursive: true });
  return agentPaths(dir);
}

describe('credentials', () => {
  test('key, certificate and chain as written; key 0600', () => {
    const paths = freshPaths();
    writeIdentity(paths, a.key, a.cert, b.cert);
    assert.deepEqual(readCredentials(paths), { key: a.key, cert: a.cert, ca: b.cert });
    assert.equal(statSync(paths.key).mode & 0o777, 0o600);
    assert.equal(statSync(paths.cert).mode & 0o777, 0o644);
  });

  test('a key that is not the certificate\'s, or a missing file, is a configuration error', () => {
    const paths = freshPaths();
    writeIdentity(paths, b.key, a.cert, a.cert);
    assert.throws(() => readCredentials(paths), (e) => e instanceof ConfigError && e.exitCode === 78 && /key\.pem does not belong to .*cert\.pem/.test(e.message));
    rmSync(paths.chain);
    assert.throws(() => readCredentials(paths), (e) => e instanceof ConfigError && /ca\.pem is missing: this Pi is not fully connected/.test(e.message));
  });

  test('a pair whose renames a crash interrupted is finished, and said so', () => {
    const paths = freshPaths();
    writeIdentity(paths, a.key, a.cert, a.cert);
    writeFileSync(`${paths.key}.next`, b.key, { mode: 0o600 });
    writeFileSync(`${paths.cert}.next`, b.cert);
    const lines: string[] = [];
    assert.equal(readCredentials(paths, createLogger('t', { write: (l: string) => lines.push(l) })).cert, b.cert);
    assert.equal(existsSync(`${paths.cert}.next`), false);
    assert.match(lines.join(''), /finished storing a certificate interrupted by a crash/);
  });
});

describe('status.json', () => {
  test('written as the daemon always wrote it, and read back', () => {
    const paths = freshPaths();
    const state = { pid: 4242, connected: true, since: 1700000000000, hub: 'https://hub:8443', serial: 'pi-1' };
    writeDaemonState(paths, state);
    assert.equal(readFileSync(paths.status, 'utf8'), '{"pid":4242,"connected":true,"since":1700000000000,"hub":"https://hub:8443","serial":"pi-1"}');
    assert.equal(statSync(paths.status).mode & 0o777, 0o644);
    assert.deepEqual(readDaemonState(paths), state);
  });

  const broken: Array<[string, string | null]> = [
    ['missing', null],
    ['not JSON', '{"pid":'],
    ['an empty object', '{}'],
    ['null', 'null'],
    ['a pid that is not a number', '{"pid":"1","connected":true,"since":1,"hub":"h","serial":"s"}'],
    ['no since', '{"pid":1,"connected":true,"hub":"h","serial":"s"}'],
  ];
  for (const [name, text] of broken) {
    test(`${name}: no state, no crash`, () => {
      const paths = freshPaths();
      if (text !== null) writeFileSync(paths.status, text);
      assert.equal(readDaemonState(paths), null);
    });
  }

  test('a state directory that cannot be written does not throw', () => {
    const paths = agentPaths(join(root, 'absent'));
    assert.doesNotThrow(() => writeDaemonState(paths, { pid: 1, connected: false, since: 0, hub: 'h', serial: 's' }));
  });
});
