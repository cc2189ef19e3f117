// The packages installed for real, with dpkg and their maintainer scripts, in a throwaway root: what a
// user gets from `apt install`, an upgrade over a module file they edited, removal and purge.
import assert from 'node:assert/strict';
import { copyFileSync, cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildDebs } from '../../../scripts/deb/build.js';
import { builtDebs, needTool } from '../../helpers/packaging.js';
import { ROOT } from '../../helpers/process.js';
import { ThrowawayRoot } from '../../helpers/throwaway-root.js';

/** pi-agent at `version`, from a copy of the repository whose shipped core.json may be changed. */
async function agentDeb(version: string, outDir: string, coreTitle?: string): Promise<string> {
  const root = mkdtempSync(join(tmpdir(), 'pifleet-root-copy-'));
  try {
    for (const p of ['dist', 'node_modules', 'debian', 'systemd', 'package.json']) symlinkSync(join(ROOT, p), join(root, p));
    cpSync(join(ROOT, 'modules'), join(root, 'modules'), { recursive: true });
    if (coreTitle) {
      const core = JSON.parse(readFileSync(join(root, 'modules', 'core.json'), 'utf8')) as { title: string };
      writeFileSync(join(root, 'modules', 'core.json'), JSON.stringify({ ...core, title: coreTitle }, null, 2));
    }
    const [b] = await buildDebs({ root, outDir, version, only: ['pi-agent'] });
    return basename(b!.file);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

let box: ThrowawayRoot | null = null;

describe('installed into a throwaway root', () => {
  before(async () => {
    if (process.getuid?.() !== 0) return;
    box = await ThrowawayRoot.create();
  });
  after(async () => { await box?.close(); });

  test('pi-agent: install, run, keep an edited core.json over upgrades, remove, purge', { timeout: 300_000 }, async (t) => {
    if (!box) { if (process.env.CI) assert.fail('needs root'); t.skip('needs root'); return; }
    if (!needTool(t, 'unshare', 'util-linux')) return;
    const { agent, version } = await builtDebs();
    copyFileSync(agent, join(box.hostDir, 'agent-1.deb'));
    const v2 = `${version}+1`;
    const v3 = `${version}+2`;
    const deb2 = await agentDeb(v2, box.hostDir);
    const deb3 = await agentDeb(v3, box.hostDir, 'Power (changed upstream)');

    await box.ok('dpkg -i /mnt/pifleet/agent-1.deb </dev/null');
    assert.equal((await box.ok('pi-agent --version')).trim(), version);
    assert.match(await box.ok('pi-agent --help'), /usage:/);
    assert.equal(await box.ok('ls /etc/pi-agent/modules'), 'core.json\ndoctor.json\ngpio.json\nmodule.schema.json\n');
    assert.equal((await box.ok('stat -c %a /etc/pi-agent')).trim(), '700');
    await box.ok('pi-agent modules check');
    assert.match(await box.ok('pi-agent modules'), /pi-agent-update\.service/, 'update goes through its own unit');
    await box.ok('systemd-analyze verify --man=no /usr/lib/systemd/system/pi-agent.service /usr/lib/systemd/system/pi-agent-update.service');
    if ((await box.sh('test -x /usr/bin/deb-systemd-helper')).code === 0) {
      await box.ok('test -L /etc/systemd/system/multi-user.target.wants/pi-agent.service');
    }

    // The owner disables reboot; the Pi has an identity and state.
    await box.ok(`node -e "const f='/etc/pi-agent/modules/core.json', m=JSON.parse(require('fs').readFileSync(f)); m.commands.reboot.enabled=false; require('fs').writeFileSync(f, JSON.stringify(m))"`);
    await box.ok('echo "{}" > /etc/pi-agent/agent.json && mkdir -p /var/lib/pi-agent && touch /var/lib/pi-agent/commands.log');
    const edited = await box.ok('cat /etc/pi-agent/modules/core.json');

    await box.ok('dpkg -i /mnt/pifleet/agent-1.deb </dev/null'); // reinstall: the scripts run again
    await box.ok(`dpkg -i /mnt/pifleet/${deb2} </dev/null`); // core.json unchanged upstream: no question
    assert.equal((await box.ok('pi-agent --version')).trim(), v2);
    assert.equal(await box.ok('cat /etc/pi-agent/modules/core.json'), edited, 'the edit survives the upgrade');
    // core.json changed upstream too: as the update unit runs apt, the owner's version stays.
    await box.ok(`dpkg -i --force-confdef --force-confold /mnt/pifleet/${deb3} </dev/null`);
    assert.equal(await box.ok('cat /etc/pi-agent/modules/core.json'), edited);
    assert.match(await box.ok('cat /etc/pi-agent/modules/core.json.dpkg-dist'), /changed upstream/);
    await box.ok('test -f /etc/pi-agent/agent.json');

    await box.ok('dpkg -r pi-agent');
    assert.notEqual((await box.sh('test -e /usr/bin/pi-agent')).code, 0);
    await box.ok('test -f /etc/pi-agent/agent.json && test -f /etc/pi-agent/modules/core.json');
    await box.ok('dpkg -P pi-agent');
    assert.notEqual((await box.sh('test -e /etc/pi-agent')).code, 0, 'purge removes the identity and modules');
    assert.notEqual((await box.sh('test -e /var/lib/pi-agent')).code, 0, 'and the state');
  });

  test('pi-hub: its user and data directory, its native modules load, serve, reinstall, purge', { timeout: 300_000 }, async (t) => {
    if (!box) { if (process.env.CI) assert.fail('needs root'); t.skip('needs root'); return; }
    const { hub } = await builtDebs();
    copyFileSync(hub, join(box.hostDir, 'hub.deb'));
    await box.ok('dpkg -i /mnt/pifleet/hub.deb </dev/null');
    const [, , uid, , , home, shell] = (await box.ok('getent passwd pi-hub')).trim().split(':');
    assert.ok(Number(uid) < 1000, `a system user: uid ${uid}`);
    assert.equal(home, '/var/lib/pi-hub');
    assert.match(shell!, /nologin|false/);
    assert.equal((await box.ok('stat -c "%a %U %G" /var/lib/pi-hub')).trim(), '700 pi-hub pi-hub');
    assert.match(await box.ok('pi-hub --help'), /pi-hub/);
    // better-sqlite3 and argon2 from the package, as the service's user.
    await box.ok('runuser -u pi-hub -- pi-hub user add alice --password-stdin', { stdin: 'correct horse battery\n' });
    // As the installed unit starts it: its ExecStart= (node, its flags, the CLI in the package), its environment.
    const serve = await box.ok(`cmd=$(sed -n 's/^ExecStart=//p' /usr/lib/systemd/system/pi-hub.service)
      runuser -u pi-hub -- env PI_HUB_DATA_DIR=/var/lib/pi-hub $cmd --port 0 --mqtts-port 0 >/tmp/hub.log 2>&1 & p=$!
      for i in $(seq 150); do grep -q listening /tmp/hub.log && break; sleep 0.2; done
      kill $p; wait $p || true; cat /tmp/hub.log`, { timeoutMs: 60_000 });
    assert.match(serve, /listening https:\/\/127\.0\.0\.1:\d+ mqtts:\/\/127\.0\.0\.1:\d+/);
    await box.ok('test -f /var/lib/pi-hub/hub.db && test "$(stat -c %U /var/lib/pi-hub/hub.db)" = pi-hub');

    await box.ok('dpkg -i /mnt/pifleet/hub.deb </dev/null'); // reinstall: user and directory as they are
    assert.equal((await box.ok('stat -c "%a %U" /var/lib/pi-hub')).trim(), '700 pi-hub');
    await box.ok('test -f /var/lib/pi-hub/hub.db');

    await box.ok('dpkg -r pi-hub');
    await box.ok('test -f /var/lib/pi-hub/hub.db'); // remove keeps the data
    await box.ok('dpkg -P pi-hub');
    assert.notEqual((await box.sh('test -e /var/lib/pi-hub')).code, 0, 'purge removes the data');
    await box.ok('getent passwd pi-hub'); // the system user stays (Debian's practice)
  });
});
