// The dashboard's pure pieces: a parameter as the agent will judge it, the argv a confirmation
// previews, the 40-pin header, and an argv quoted for reading.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkParam, previewOf } from '../../../broker/dashboard/src/command-logic.js';
import { HEADER, physicalPinOf, pinLabel } from '../../../broker/dashboard/src/components/pin-header.js';
import { shellQuote } from '../../../broker/dashboard/src/format.js';
import type { ManifestModule, ParamSpec } from '../../../shared/schemas.js';

describe('checkParam', () => {
  const rows: Array<[string, ParamSpec, string, unknown]> = [
    ['an enum value', { enum: ['web', 'worker'] }, 'worker', 'worker'],
    ['not in the enum', { enum: ['web'] }, 'db', { problem: 'choose one of the listed values' }],
    ['an integer, canonical', { type: 'integer', min: 1, max: 30 }, ' 007 ', 7],
    ['below min', { type: 'integer', min: 1 }, '0', { problem: 'at least 1' }],
    ['above max', { type: 'integer', max: 30 }, '31', { problem: 'at most 30' }],
    ['negative without a negative min', { type: 'integer' }, '-1', { problem: 'not negative' }],
    ['negative where min allows it', { type: 'integer', min: -5 }, '-3', -3],
    ['not a whole number', { type: 'integer' }, '1.5', { problem: 'a whole number' }],
    ['a pattern match', { pattern: '^[a-z ]{1,20}$' }, 'pins and needles', 'pins and needles'],
    ['an option-like value', { pattern: '^.*$' }, '-rf', { problem: 'may not start with "-"' }],
    ['a control character', { pattern: '^.*$' }, 'a\nb', { problem: 'no control characters' }],
    ['over maxLength', { pattern: '^a+$', maxLength: 3 }, 'aaaa', { problem: 'at most 3 characters' }],
    ['no match', { pattern: '^[0-9]+$' }, 'x1', { problem: 'must match ^[0-9]+$' }],
  ];
  for (const [name, spec, raw, want] of rows) it(name, () => assert.deepEqual(checkParam(spec, raw), want));
});

describe('previewOf', () => {
  const cmd = { name: 'restart', title: 'Restart', user: 'pi', confirm: true, timeoutSec: 30, params: { unit: { enum: ['web', 'worker'] } } };
  const mod: ManifestModule = { id: 'app', title: 'App', kind: 'commands', commands: [cmd], checks: [] };

  it('without argv or version in the manifest, says so (null) rather than guess', () => {
    assert.deepEqual(previewOf(mod, cmd, { unit: 'web' }), { argv: null, user: 'pi', module: 'app', file: null, sha256: null, timeoutSec: 30 });
  });

  it('fills whole {name} elements only, as the agent does', () => {
    const withRun = { ...cmd, run: ['/usr/bin/systemctl', 'restart', '{unit}', 'x{unit}'] };
    const withVersion = { ...mod, file: 'app.json', sha256: 'ab'.repeat(32) } as ManifestModule;
    assert.deepEqual(previewOf(withVersion, withRun, { unit: 'worker' }), {
      argv: ['/usr/bin/systemctl', 'restart', 'worker', 'x{unit}'], user: 'pi', module: 'app', file: 'app.json', sha256: 'ab'.repeat(32), timeoutSec: 30,
    });
  });
});

describe('the 40-pin header', () => {
  it('has 28 GPIOs, power at 1, 2, 4, 17 and eight grounds', () => {
    assert.equal(HEADER.length, 40);
    assert.deepEqual(HEADER.filter((p) => p.kind === 'gpio').map((p) => (p as { bcm: number }).bcm).sort((a, b) => a - b), Array.from({ length: 28 }, (_, i) => i));
    assert.deepEqual(HEADER.filter((p) => p.kind !== 'gpio' && p.kind !== 'gnd').map((p) => `${p.phys}:${pinLabel(p)}`), ['1:3V3', '2:5V', '4:5V', '17:3V3']);
    assert.deepEqual(HEADER.filter((p) => p.kind === 'gnd').map((p) => p.phys), [6, 9, 14, 20, 25, 30, 34, 39]);
  });
  const rows: Array<[number, number]> = [[2, 3], [4, 7], [17, 11], [18, 12], [27, 13], [21, 40], [0, 27]];
  for (const [bcm, phys] of rows) it(`GPIO${bcm} is pin ${phys}`, () => assert.equal(physicalPinOf(bcm), phys));
});

describe('shellQuote', () => {
  const rows: Array<[string[], string]> = [
    [['/bin/echo', 'hello'], '/bin/echo hello'],
    [['/bin/echo', 'two words'], `/bin/echo 'two words'`],
    [['/bin/echo', "it's"], `/bin/echo 'it'\\''s'`],
    [['/bin/echo', ''], `/bin/echo ''`],
    [['/bin/echo', '$HOME;rm'], `/bin/echo '$HOME;rm'`],
  ];
  for (const [argv, want] of rows) it(want, () => assert.equal(shellQuote(argv), want));
});
