import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { Output } from '../../../../agent/cli-output.js';
import { modulesCommand } from '../../../../agent/modules/cli.js';
import { UsageError } from '../../../../shared/errors.js';

function capture(): Output & { stdout: string; stderr: string } {
  const o = { stdout: '', stderr: '', out: (s: string) => { o.stdout += s; }, err: (s: string) => { o.stderr += s; } };
  return o;
}

const dir = mkdtempSync(join(tmpdir(), 'pifleet-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const modules = join(dir, 'modules');
mkdirSync(modules);
const ctx = { configDir: dir, defaultUser: 'nobody' };

describe('pi-agent modules', () => {
  it('lists what each module allows and as whom', async () => {
    writeFileSync(join(modules, 'a.json'), JSON.stringify({ id: 'svc', title: 'Services', commands: {
      restart: { title: 'Restart', run: ['/usr/bin/systemctl', 'restart', '{svc}'], user: 'root', confirm: true, params: { svc: { enum: ['ssh', 'cron'] } } },
      who: { title: 'Who', run: ['/usr/bin/id'] },
      gone: { title: 'Gone', run: ['/usr/bin/id'], enabled: false },
    } }));
    const io = capture();
    assert.equal(await modulesCommand([], ctx, io), 0);
    assert.equal(io.stdout, [
      `svc — Services    ${join(modules, 'a.json')}`,
      '  restart          as root       /usr/bin/systemctl restart {svc}',
      '                   Restart; asks to confirm; timeout 30 s; svc: ssh|cron',
      '  who              as nobody     /usr/bin/id',
      '                   Who; timeout 30 s',
      '',
    ].join('\n'));
    assert.equal(io.stderr, '');
  });

  it('check: prints file: path: reason for every problem and exits 1', async () => {
    writeFileSync(join(modules, 'b.json'), JSON.stringify({ id: 'b', title: 'B', commands: { x: { title: 'X', run: ['/bin/echo', 'a{msg}'] } } }));
    const io = capture();
    assert.equal(await modulesCommand(['check'], ctx, io), 1);
    assert.equal(io.stderr, `${join(modules, 'b.json')}: commands.x.run.1: a parameter may only fill a whole argument: "{msg}" must be an element of run on its own\n`);
    rmSync(join(modules, 'b.json'));
    const ok = capture();
    assert.equal(await modulesCommand(['check'], ctx, ok), 0);
    assert.equal(ok.stdout, `1 module OK in ${modules}\n`);
  });

  it('check: no modules directory is no modules, not an error (as for the daemon)', async () => {
    const io = capture();
    assert.equal(await modulesCommand(['check'], { ...ctx, configDir: join(dir, 'absent') }, io), 0);
    assert.equal(io.stdout, `0 modules OK in ${join(dir, 'absent', 'modules')}\n`);
  });

  it('bad usage is a UsageError', async () => {
    await assert.rejects(modulesCommand(['chekc'], ctx, capture()), UsageError);
    await assert.rejects(modulesCommand(['--nope'], ctx, capture()), UsageError);
  });
});
