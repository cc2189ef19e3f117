// pi-agent's local commands as child processes: exit codes and the one line on bad input.
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { TestAgent } from '../../helpers/agent.js';
import { ROOT } from '../../helpers/process.js';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'pifleet-agent-cli-'));
  mkdirSync(join(dir, 'modules'));
  cpSync(join(ROOT, 'modules', 'module.schema.json'), join(dir, 'modules', 'module.schema.json'));
  writeFileSync(join(dir, 'modules', 'tools.json'), JSON.stringify({
    id: 'tools', title: 'Tools', commands: { uptime: { title: 'Uptime', run: ['/usr/bin/uptime'], user: 'nobody' } },
  }));
});
after(() => rmSync(dir, { recursive: true, force: true }));

const cli = (...args: string[]) => TestAgent.cli(args);

describe('pi-agent CLI', () => {
  test('no command: the usage and exit 2; --help exit 0; an unknown command exit 2', async () => {
    let r = await cli();
    assert.equal(r.code, 2);
    assert.match(r.stdout, /usage:/);
    r = await cli('--help');
    assert.equal(r.code, 0);
    r = await cli('frobnicate');
    assert.equal(r.code, 2);
    assert.equal(r.stderr, 'pi-agent: unknown command: frobnicate\nrun pi-agent --help\n');
  });

  test('modules lists what is allowed with the user each command runs as', async () => {
    const r = await cli('modules', '--config-dir', dir);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^tools — Tools/m);
    assert.match(r.stdout, /uptime +as nobody +\/usr\/bin\/uptime/);
  });

  test('modules check: exit 0 when valid; file, JSON path and reason and exit 1 otherwise', async () => {
    let r = await cli('modules', 'check', '--config-dir', dir);
    assert.equal(r.code, 0, r.stderr);
    writeFileSync(join(dir, 'modules', 'broken.json'), JSON.stringify({ id: 'broken', title: 'B', commands: { x: { title: 'X', run: 'reboot now' } } }));
    r = await cli('modules', 'check', '--config-dir', dir);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /broken\.json: commands\.x\.run: /);
    rmSync(join(dir, 'modules', 'broken.json'));
  });

  test('doctor runs the checks here and prints a table; not connected, so the certificate check fails', async () => {
    const r = await cli('doctor', '--config-dir', dir);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /^pass +Disk space/m);
    assert.match(r.stdout, /^FAIL +Device certificate/m);
  });

  test('run and status without a connection: exit 78 and what to do', async () => {
    for (const cmd of ['run', 'status']) {
      const r = await cli(cmd, '--config-dir', dir);
      assert.equal(r.code, 78, cmd);
      assert.match(r.stderr, /^pi-agent: this Pi is not connected: .*agent\.json does not exist\nrun: sudo pi-agent connect/);
    }
  });

  test('status: a status.json that is not a daemon state reads as not running', async () => {
    const d = mkdtempSync(join(tmpdir(), 'pifleet-agent-cli-'));
    writeFileSync(join(d, 'agent.json'), JSON.stringify({ hub: 'https://hub.example:8443', serial: 'pi-s', trustDomain: 't', userId: '1', stateDir: join(d, 'state') }));
    mkdirSync(join(d, 'state'));
    for (const text of ['{}', '{"pid":"x"}', 'not json']) {
      writeFileSync(join(d, 'state', 'status.json'), text);
      const r = await cli('status', '--config-dir', d);
      assert.equal(r.code, 0, `${text}: ${r.stderr}`);
      assert.match(r.stdout, /^daemon: +not running$/m, text);
    }
    rmSync(d, { recursive: true, force: true });
  });

  test('a broken agent.json is a configuration error naming the field', async () => {
    const d = mkdtempSync(join(tmpdir(), 'pifleet-agent-cli-'));
    writeFileSync(join(d, 'agent.json'), JSON.stringify({ hub: 'http://x', serial: 'a b', trustDomain: 't', userId: '1' }));
    const r = await cli('status', '--config-dir', d);
    assert.equal(r.code, 78);
    assert.match(r.stderr, /agent\.json: hub: /);
    assert.match(r.stderr, /agent\.json: serial: /);
    rmSync(d, { recursive: true, force: true });
  });
});

describe('pi-agent SUBCOMMAND --help', () => {
  const rows: Array<[string, string]> = [
    ['connect', 'usage: pi-agent connect --hub https://HOST:PORT --fingerprint SHA256 --api-key - | --api-key-file F [--serial S] [--force] [--config-dir DIR]'],
    ['run', 'usage: pi-agent run [--sim] [--config-dir DIR]'],
    ['status', 'usage: pi-agent status [--config-dir DIR]'],
    ['modules', 'usage: pi-agent modules [check] [--config-dir DIR]'],
    ['doctor', 'usage: pi-agent doctor [--json] [--config-dir DIR]'],
    ['gpio', 'usage: pi-agent gpio [--json] [--config-dir DIR]'],
    ['disconnect', 'usage: pi-agent disconnect [--config-dir DIR]'],
  ];
  let broken: string;
  before(() => {
    // Help needs no agent.json, not even a readable one.
    broken = mkdtempSync(join(tmpdir(), 'pifleet-agent-cli-'));
    writeFileSync(join(broken, 'agent.json'), '{"hub":');
  });
  after(() => rmSync(broken, { recursive: true, force: true }));

  for (const [cmd, usage] of rows) {
    test(`${cmd} --help and -h: its own usage, exit 0`, async () => {
      for (const flag of ['--help', '-h']) {
        const r = await cli(cmd, flag, '--config-dir', broken);
        assert.equal(r.code, 0, `${flag}: ${r.stderr}`);
        assert.equal(r.stderr, '');
        assert.ok(r.stdout.startsWith(`${usage}\n`), `${flag}: ${r.stdout}`);
        for (const [other] of rows) if (other !== cmd) assert.doesNotMatch(r.stdout, new RegExp(`pi-agent ${other}\\b`), `${flag}: names ${other}`);
      }
    });
  }
});
