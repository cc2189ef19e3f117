// The manifest assembled from what the parts declare: the same JSON, field for field and in the same
// order, as the daemon published when it wrote the manifest out in full.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { assembleManifest, fitted, type ManifestContribution } from '../../../agent/manifest.js';
import { MAX_PAYLOAD_BYTES } from '../../../shared/limits.js';
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

describe('the argv in the manifest', () => {
  const withRun = (n: number, argLength: number): ManifestContribution['modules'] => Array.from({ length: n }, (_, i) => ({
    id: `m${i}`, title: 'M', kind: 'commands' as const, file: `m${i}.json`, sha256: 'a'.repeat(64),
    commands: [{ name: 'go', title: 'Go', user: 'nobody', confirm: true, timeoutSec: 5, params: {}, run: ['/usr/bin/echo', 'x'.repeat(argLength)] }],
    checks: [],
  }));

  test('each command carries its argv and each module its file and version, when they fit', () => {
    const m = assembleManifest(device, [part('modules', { modules: withRun(2, 10), doctor: false }), part('gpio', { gpio: [] })]);
    assert.deepEqual(m.modules.map((x) => [x.file, x.sha256, x.commands[0]!.run]), [
      ['m0.json', 'a'.repeat(64), ['/usr/bin/echo', 'x'.repeat(10)]],
      ['m1.json', 'a'.repeat(64), ['/usr/bin/echo', 'x'.repeat(10)]],
    ]);
  });

  test('past the hub\'s limit every argv is left out, the versions stay, and the rest fits', () => {
    const big = assembleManifest(device, [part('modules', { modules: withRun(80, 4000), doctor: false }), part('gpio', { gpio: [] })]);
    assert.ok(Buffer.byteLength(JSON.stringify(big)) <= MAX_PAYLOAD_BYTES.manifest);
    assert.ok(big.modules.every((x) => x.commands.every((c) => c.run === undefined)));
    assert.equal(big.modules.length, 80);
    assert.ok(big.modules.every((x) => x.sha256 === 'a'.repeat(64)));
    // the same manifest under the limit is left as it is
    const small = assembleManifest(device, [part('modules', { modules: withRun(60, 4000), doctor: false }), part('gpio', { gpio: [] })]);
    assert.ok(small.modules.every((x) => x.commands[0]!.run?.[1]?.length === 4000));
    assert.equal(fitted(small), small);
  });
});
