import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parseModuleText, type SchemaProblem } from '../../../agent/modules/schema.js';

const SHIPPED = new URL('../../../../modules/', import.meta.url);

const cmd = (command: Record<string, unknown>, top: Record<string, unknown> = {}) =>
  JSON.stringify({ id: 'm', title: 'M', commands: { x: { title: 'X', ...command } }, ...top });
const check = (c: Record<string, unknown>) =>
  JSON.stringify({ id: 'health', title: 'H', kind: 'doctor', checks: { c: { title: 'C', ...c } } });

describe('module schema: valid files', () => {
  it('a minimal commands module gets its defaults', () => {
    const r = parseModuleText(cmd({ run: ['/usr/bin/id'] }));
    assert.ok(r.ok);
    assert.deepEqual(r.module, {
      id: 'm', title: 'M', kind: 'commands',
      commands: { x: { title: 'X', run: ['/usr/bin/id'], confirm: false, enabled: true, timeoutSec: 30, params: {} } },
    });
  });

  it('parameters fill whole elements, each declared and used', () => {
    const r = parseModuleText(cmd({
      run: ['/usr/bin/systemctl', 'restart', '{svc}', '{n}', '{svc}'], user: 'nobody',
      params: { svc: { enum: ['ssh', 'cron'] }, n: { type: 'integer', min: 1, max: 3 } },
    }, { $schema: './module.schema.json' }));
    assert.ok(r.ok);
    assert.equal(r.module.kind, 'commands');
  });

  it('literal braces that are not a placeholder are fine', () => {
    assert.ok(parseModuleText(cmd({ run: ['/usr/bin/awk', '{print $1}', '/proc/loadavg'] })).ok);
  });

  it('a doctor module: built-ins with default thresholds and a command check', () => {
    const r = parseModuleText(JSON.stringify({
      id: 'health', title: 'H', kind: 'doctor', checks: {
        disk: { title: 'Disk', builtin: 'disk' },
        cert: { title: 'Cert', builtin: 'certificate', warnDays: 10 },
        load: { title: 'Load', run: ['/bin/cat', '/proc/loadavg'], pass: { number: { op: '<', value: 4, warn: 2 } } },
      },
    }));
    assert.ok(r.ok);
    assert.equal(r.module.kind, 'doctor');
    assert.ok(r.module.kind === 'doctor');
    assert.deepEqual(r.module.checks.disk, { title: 'Disk', enabled: true, builtin: 'disk', warnPercent: 85, failPercent: 95 });
    assert.deepEqual(r.module.checks.cert, { title: 'Cert', enabled: true, builtin: 'certificate', warnDays: 10, failDays: 2 });
    assert.deepEqual(r.module.checks.load, { title: 'Load', enabled: true, run: ['/bin/cat', '/proc/loadavg'], timeoutSec: 30, pass: { number: { op: '<', value: 4, warn: 2 } } });
  });

  for (const file of ['core.json', 'doctor.json']) {
    it(`the shipped ${file} is valid`, () => {
      const r = parseModuleText(readFileSync(new URL(file, SHIPPED), 'utf8'));
      assert.deepEqual(r.ok ? [] : r.problems, []);
    });
  }

  it('the shipped core.json is what docs/ARCHITECTURE.md shows', () => {
    const r = parseModuleText(readFileSync(new URL('core.json', SHIPPED), 'utf8'));
    assert.ok(r.ok && r.module.kind === 'commands');
    assert.deepEqual(Object.fromEntries(Object.entries(r.module.commands).map(([k, c]) => [k, [c.run, c.user, c.confirm, c.timeoutSec]])), {
      reboot: [['/usr/bin/systemctl', 'reboot'], 'root', true, 30],
      shutdown: [['/usr/bin/systemctl', 'poweroff'], 'root', true, 30],
      update: [['/usr/bin/systemctl', 'start', '--no-block', 'pi-agent-update.service'], 'root', false, 30],
    });
  });
});

const P = (path: string, message: string): SchemaProblem => ({ path, message });
const PARAM_FORMS = 'a parameter is {"enum": [...]}, {"type": "integer", "min"?: N, "max"?: N} or {"pattern": "^...$", "maxLength"?: N}';

// Each row: a file's text and exactly the problems reported.
const INVALID: [string, string, SchemaProblem[]][] = [
  ['not JSON', '{"id": "m",\n  "title": "x"\n  "commands": {}}', [P('(root)', "not valid JSON: Expected ',' or '}' after property value in JSON at position 29 (line 3 column 3)")]],
  ['an array', '[]', [P('(root)', 'Invalid input: expected object, received array')]],
  ['relative program', cmd({ run: ['systemctl', 'reboot'] }), [P('commands.x.run.0', 'run[0] must be the absolute path of the program (run is an argv array, never a shell string)')]],
  ['empty run', cmd({ run: [] }), [P('commands.x.run.0', 'run needs at least the program: ["/absolute/path", ...arguments]')]],
  ['a shell string', cmd({ run: '/usr/bin/systemctl reboot' }), [P('commands.x.run', 'run is an argv array such as ["/usr/bin/systemctl", "reboot"], never a shell string')]],
  ['a number in run', cmd({ run: ['/bin/echo', 3] }), [P('commands.x.run.1', 'Invalid input: expected string, received number')]],
  ['NUL in an argument', cmd({ run: ['/bin/echo', 'a\u0000b'] }), [P('commands.x.run.1', 'an argument may not contain NUL')]],
  ['placeholder inside a longer element', cmd({ run: ['/usr/bin/systemctl', 'restart', '--unit={svc}'], params: { svc: { enum: ['ssh'] } } }), [
    P('commands.x.run.2', 'a parameter may only fill a whole argument: "{svc}" must be an element of run on its own'),
    P('commands.x.params.svc', 'parameter "svc" is declared but run never uses "{svc}"'),
  ]],
  ['undeclared placeholder', cmd({ run: ['/bin/echo', '{msg}'] }), [P('commands.x.run.1', 'placeholder "{msg}" is not a declared parameter (declare it in "params")')]],
  ['declared but unused', cmd({ run: ['/bin/echo'], params: { msg: { pattern: '^.*$' } } }), [P('commands.x.params.msg', 'parameter "msg" is declared but run never uses "{msg}"')]],
  ['program as a placeholder', cmd({ run: ['{prog}'], params: { prog: { enum: ['/bin/sh'] } } }), [P('commands.x.run.0', 'run[0] must be the absolute path of the program (run is an argv array, never a shell string)')]],
  ['reserved id', cmd({ run: ['/bin/true'] }, { id: 'doctor' }), [P('id', '"doctor" is reserved for the doctor: use "kind": "doctor" or another id')]],
  ['unknown key in a command', cmd({ run: ['/bin/true'], shell: true }), [P('commands.x', 'Unrecognized key: "shell"')]],
  ['unknown key at the top', cmd({ run: ['/bin/true'] }, { version: 2 }), [P('(root)', 'Unrecognized key: "version"')]],
  ['checks in a commands module', cmd({ run: ['/bin/true'] }, { checks: {} }), [P('(root)', 'Unrecognized key: "checks"')]],
  ['bad command name', JSON.stringify({ id: 'm', title: 'M', commands: { Reboot: { title: 'R', run: ['/bin/true'] } } }), [P('commands.Reboot', 'invalid name: a name is 1–64 of a–z, 0–9, _ and -, starting with a letter or digit')]],
  ['bad module id', cmd({ run: ['/bin/true'] }, { id: 'a/b' }), [P('id', 'a name is 1–64 of a–z, 0–9, _ and -, starting with a letter or digit')]],
  ['missing title', cmd({ title: undefined, run: ['/bin/true'] }), [P('commands.x.title', 'Invalid input: expected string, received undefined')]],
  ['timeout zero', cmd({ run: ['/bin/true'], timeoutSec: 0 }), [P('commands.x.timeoutSec', 'Too small: expected number to be >0')]],
  ['timeout too long', cmd({ run: ['/bin/true'], timeoutSec: 3601 }), [P('commands.x.timeoutSec', 'Too big: expected number to be <=3600')]],
  ['bad user name', cmd({ run: ['/bin/true'], user: '-root' }), [P('commands.x.user', 'a user name is 1–32 of a–z, 0–9, _ and -, starting with a letter or _')]],
  ['unanchored pattern', cmd({ run: ['/bin/echo', '{s}'], params: { s: { pattern: '[a-z]+' } } }), [P('commands.x.params.s.pattern', 'a pattern must be anchored: start with ^ and end with $')]],
  ['empty enum', cmd({ run: ['/bin/echo', '{s}'], params: { s: { enum: [] } } }), [P('commands.x.params.s.enum', 'Too small: expected array to have >=1 items')]],
  ['integer bound not a number', cmd({ run: ['/bin/echo', '{s}'], params: { s: { type: 'integer', min: 'x' } } }), [P('commands.x.params.s.min', 'Invalid input: expected number, received string')]],
  ['a parameter of no known form', cmd({ run: ['/bin/echo', '{s}'], params: { s: {} } }), [P('commands.x.params.s', PARAM_FORMS)]],
  ['unknown kind', JSON.stringify({ id: 'm', title: 'M', kind: 'script', commands: {} }), [P('kind', 'kind is "commands" (the default), "doctor" or "gpio"')]],
  ['unknown built-in', check({ builtin: 'fan' }), [P('checks.c.builtin', 'builtin is one of disk, temperature, throttling, clock, hub, certificate; a command check has "run" and "pass" and no "builtin"')]],
  ['threshold of the wrong type', check({ builtin: 'disk', warnPercent: '80' }), [P('checks.c.warnPercent', 'Invalid input: expected number, received string')]],
  ['unknown threshold', check({ builtin: 'clock', warnC: 3 }), [P('checks.c', 'Unrecognized key: "warnC"')]],
  ['warn above fail', check({ builtin: 'disk', warnPercent: 99 }), [P('checks.c.warnPercent', 'warnPercent must not exceed failPercent')]],
  ['command check without pass', check({ run: ['/bin/true'] }), [P('checks.c.pass', 'pass is {"exitCode": N} or {"number": {"op": "<"|"<="|">"|">="|"==", "value": N, "warn"?: N}}')]],
  ['pass exit code of the wrong type', check({ run: ['/bin/true'], pass: { exitCode: '0' } }), [P('checks.c.pass.exitCode', 'Invalid input: expected number, received string')]],
  ['pass with an unknown operator', check({ run: ['/bin/true'], pass: { number: { op: '!=', value: 1 } } }), [P('checks.c.pass.number.op', 'Invalid option: expected one of "<"|"<="|">"|">="|"=="')]],
  ['a check with a placeholder', check({ run: ['/bin/echo', '{x}'], pass: { exitCode: 0 } }), [P('checks.c.run.1', 'a check takes no parameters, but "{x}" is a placeholder')]],
];

describe('module schema: invalid files report the exact JSON path', () => {
  for (const [what, text, problems] of INVALID) {
    it(what, () => {
      const r = parseModuleText(text);
      assert.deepEqual(r.ok ? [] : r.problems, problems);
    });
  }
});
