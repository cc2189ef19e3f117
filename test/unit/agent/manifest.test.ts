// The manifest assembled from what the parts declare: the same JSON, field for field and in the same
// order, as the daemon published when it wrote the manifest out in full.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { assembleManifest, type ManifestContribution } from '../../../agent/manifest.js';
import { VERSION } from '../../../shared/version.js';

const part = (name: string, c: ManifestContribution) => ({ name, manifest: () => c });
const device = { model: 'Raspberry Pi 4 Model B Rev 1.5', hostname: 'pi' };
const modules: ManifestContribution['modules'] = [{
  id: 'core', title: 'Power', kind: 'commands',
  commands: [{ name: 'reboot', title: 'Reboot', user: 'root', confirm: true, timeoutSec: 30, params: {} }],
  checks: [],
}];

describe('assembleManifest', () => {
  test('the fields of every part, in ManifestSchema order, whatever the order of the parts', () => {
    const parts = [part('gpio', { gpio: [] }), { name: 'state' }, part('modules', { modules, doctor: true })];
    assert.equal(JSON.stringify(assembleManifest(device, parts, 1700000000000)), JSON.stringify({
      v: 1, ts: 1700000000000, agentVersion: VERSION, device, modules, doctor: true, gpio: [],
    }));
  });

  test('a field declared by two parts is a programming error', () => {
    assert.throws(() => assembleManifest(device, [part('modules', { modules, doctor: false }), part('doctor', { doctor: true }), part('gpio', { gpio: [] })]),
      /the manifest's doctor is declared by both modules and doctor/);
  });

  test('a field no part declares fails the schema', () => {
    assert.throws(() => assembleManifest(device, [part('modules', { modules, doctor: false })]), /gpio/);
  });
});
