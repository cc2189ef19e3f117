import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadContext, loadModuleText, type LoadContext } from '../../../../agent/modules/loader.js';

const text = (user?: string) => JSON.stringify({
  id: 'm', title: 'M', commands: {
    a: { title: 'A', run: ['/bin/true'], ...(user ? { user } : {}) },
    off: { title: 'Off', run: ['/bin/true'], user: 'no-such-user-here', enabled: false },
  },
});

describe('loadModuleText', () => {
  it('resolves users through getent; a disabled command is neither loaded nor resolved', async () => {
    const r = await loadModuleText(text('nobody'), 'm.json', loadContext('root'));
    assert.ok(r.ok);
    assert.deepEqual([...r.module.commands.keys()], ['a']);
    assert.deepEqual(r.module.commands.get('a')!.user, { name: 'nobody', uid: 65534, gid: 65534, home: '/nonexistent' });
  });

  it('a command without a user runs as the default user', async () => {
    const r = await loadModuleText(text(), 'm.json', loadContext('nobody'));
    assert.ok(r.ok);
    assert.equal(r.module.commands.get('a')!.user.name, 'nobody');
    const missing = await loadModuleText(text(), 'm.json', loadContext('no-such-user-here'));
    assert.deepEqual(missing, { ok: false, problems: [{ file: 'm.json', path: 'commands.a (default user "no-such-user-here")', message: 'user "no-such-user-here" does not exist on this system' }] });
  });

  it('when the agent is not root, another user is a load error that says why', async () => {
    const ctx: LoadContext = { ...loadContext('nobody'), daemonUid: 1000 };
    const r = await loadModuleText(text('root'), 'm.json', ctx);
    assert.deepEqual(r, { ok: false, problems: [{
      file: 'm.json', path: 'commands.a.user',
      message: 'runs as "root" but pi-agent is not running as root (uid 1000), so it cannot switch to another user: run pi-agent as root or drop "user"',
    }] });
    const own: LoadContext = { ...loadContext('nobody'), daemonUid: 65534 };
    assert.equal((await loadModuleText(text('nobody'), 'm.json', own)).ok, true, 'its own user is fine');
  });
});

describe('gpio modules across files', () => {
  it('a pin listed in two files: the later file is refused, naming the pin and the earlier file', async () => {
    const { mkdtempSync, mkdirSync, writeFileSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { loadModulesDir } = await import('../../../../agent/modules/loader.js');
    const dir = mkdtempSync(join(tmpdir(), 'pifleet-gpio-'));
    try {
      mkdirSync(join(dir, 'm'));
      writeFileSync(join(dir, 'm', 'a-gpio.json'), JSON.stringify({ id: 'pins-a', kind: 'gpio', title: 'A', pins: { 17: { modes: ['out'] }, 18: { modes: ['out'] } } }));
      writeFileSync(join(dir, 'm', 'b-gpio.json'), JSON.stringify({ id: 'pins-b', kind: 'gpio', title: 'B', pins: { 18: { modes: ['in'] }, 22: { modes: ['in'] } } }));
      const r = await loadModulesDir(join(dir, 'm'), loadContext('nobody'));
      assert.deepEqual(r.modules.map((m) => [m.id, [...m.pins.keys()]]), [['pins-a', [17, 18]]]);
      assert.deepEqual(r.problems, [{ file: join(dir, 'm', 'b-gpio.json'), path: 'pins.18', message: 'pin 18 is already declared by a-gpio.json: a pin belongs to one file' }]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
