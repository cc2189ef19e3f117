import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ParamSpec } from '../../../shared/schemas.js';
import { buildArgv, type ParamsOutcome, type ParamValue } from '../../../agent/modules/params.js';

const SPECS: Record<string, Record<string, ParamSpec>> = {
  svc: { svc: { enum: ['ssh', 'cron'] } },
  num: { n: { type: 'integer', min: 1, max: 10 } },
  free: { n: { type: 'integer' } },
  nonneg: { n: { type: 'integer', min: 0 } },
  maxonly: { n: { type: 'integer', max: 100 } },
  signed: { n: { type: 'integer', min: -10, max: 10 } },
  host: { host: { pattern: '^[a-z0-9.-]+$', maxLength: 16 } },
  msg: { msg: { pattern: '^.*$' } },
  alt: { v: { pattern: '^a|b$' } },
  digits: { d: { enum: ['1', '2'] } },
};
const TEMPLATES: Record<string, string[]> = {
  svc: ['/usr/bin/systemctl', 'restart', '{svc}'],
  num: ['/usr/bin/seq', '{n}'],
  free: ['/usr/bin/seq', '{n}'],
  nonneg: ['/bin/kill', '{n}'],
  maxonly: ['/bin/kill', '{n}'],
  signed: ['/usr/bin/seq', '{n}'],
  host: ['/usr/bin/ping', '-c', '1', '{host}'],
  msg: ['/bin/echo', '{msg}'],
  alt: ['/bin/echo', '{v}'],
  digits: ['/bin/echo', '{d}'],
};

const ok = (...argv: string[]): ParamsOutcome => ({ ok: true, argv });
const no = (message: string): ParamsOutcome => ({ ok: false, message });

const ROWS: [string, string, Record<string, ParamValue> | undefined, ParamsOutcome][] = [
  // what, spec, values, outcome
  ['enum member', 'svc', { svc: 'ssh' }, ok('/usr/bin/systemctl', 'restart', 'ssh')],
  ['enum non-member', 'svc', { svc: 'sshd' }, no('parameter "svc": "sshd" is not one of "ssh", "cron"')],
  ['enum with a command appended', 'svc', { svc: 'ssh; rm -rf /' }, no('parameter "svc": "ssh; rm -rf /" is not one of "ssh", "cron"')],
  ['enum with a newline', 'svc', { svc: 'ssh\nreboot' }, no('parameter "svc": control characters (NUL, newline, …) are not allowed')],
  ['enum given a number', 'digits', { d: 2 }, ok('/bin/echo', '2')],
  ['missing', 'svc', {}, no('missing parameter "svc"')],
  ['no params object', 'svc', undefined, no('missing parameter "svc"')],
  ['unknown', 'svc', { svc: 'ssh', extra: 'x' }, no('unknown parameter "extra"')],
  ['two unknown', 'svc', { z: 1, a: 2, svc: 'ssh' }, no('unknown parameters "a", "z"')],
  ['params where none declared', 'none', { x: 1 }, no('unknown parameter "x"')],
  ['integer', 'num', { n: 5 }, ok('/usr/bin/seq', '5')],
  ['integer as a decimal string', 'num', { n: '7' }, ok('/usr/bin/seq', '7')],
  ['integer with leading zeros is canonical', 'num', { n: '007' }, ok('/usr/bin/seq', '7')],
  ['integer below min', 'num', { n: 0 }, no('parameter "n": 0 is less than 1')],
  ['integer above max', 'num', { n: '11' }, no('parameter "n": 11 is more than 10')],
  ['integer not whole', 'num', { n: 5.5 }, no('parameter "n": 5.5 is not an integer')],
  ['integer string not whole', 'num', { n: '5.0' }, no('parameter "n": "5.0" is not an integer')],
  ['integer with a plus sign', 'num', { n: '+5' }, no('parameter "n": "+5" is not an integer')],
  ['integer with spaces', 'num', { n: ' 5' }, no('parameter "n": " 5" is not an integer')],
  ['integer in exponent form', 'num', { n: '1e1' }, no('parameter "n": "1e1" is not an integer')],
  ['integer with a command', 'num', { n: '5; reboot' }, no('parameter "n": "5; reboot" is not an integer')],
  ['integer substitution', 'num', { n: '$(id)' }, no('parameter "n": "$(id)" is not an integer')],
  ['integer beyond 2^53', 'free', { n: '9007199254740993' }, no('parameter "n": "9007199254740993" is not an integer')],
  // A negative value only where the owner declared a negative min: `kill -1` is "every process".
  ['negative string without min', 'free', { n: '-3' }, no('parameter "n": -3 is negative; this parameter takes no negative values')],
  ['negative number without min', 'free', { n: -1 }, no('parameter "n": -1 is negative; this parameter takes no negative values')],
  ['negative with only a max', 'maxonly', { n: '-1' }, no('parameter "n": -1 is negative; this parameter takes no negative values')],
  ['negative below min 0', 'nonneg', { n: -1 }, no('parameter "n": -1 is negative; this parameter takes no negative values')],
  ['negative below a positive min', 'num', { n: '-5' }, no('parameter "n": -5 is negative; this parameter takes no negative values')],
  ['negative with leading zeros, no min', 'free', { n: '-007' }, no('parameter "n": -7 is negative; this parameter takes no negative values')],
  ['negative within a negative min', 'signed', { n: '-5' }, ok('/usr/bin/seq', '-5')],
  ['negative number within a negative min', 'signed', { n: -10 }, ok('/usr/bin/seq', '-10')],
  ['negative with leading zeros is canonical', 'signed', { n: '-007' }, ok('/usr/bin/seq', '-7')],
  ['negative below a negative min', 'signed', { n: -11 }, no('parameter "n": -11 is less than -10')],
  ['minus zero string is zero, without min', 'free', { n: '-0' }, ok('/usr/bin/seq', '0')],
  ['minus zero number is zero, with min 0', 'nonneg', { n: -0 }, ok('/bin/kill', '0')],
  ['zero with min 0', 'nonneg', { n: '0' }, ok('/bin/kill', '0')],
  ['positive without min', 'free', { n: 42 }, ok('/usr/bin/seq', '42')],
  ['pattern match', 'host', { host: 'pi-4.local' }, ok('/usr/bin/ping', '-c', '1', 'pi-4.local')],
  ['pattern given a number', 'host', { host: 4 }, no('parameter "host": expected a string')],
  ['pattern mismatch (space)', 'host', { host: 'a b' }, no('parameter "host": "a b" does not match ^[a-z0-9.-]+$')],
  ['pattern too long', 'host', { host: 'a'.repeat(17) }, no('parameter "host": longer than 16 characters')],
  ['option smuggling --', 'host', { host: '--help' }, no('parameter "host": may not start with "-"')],
  ['option smuggling -', 'host', { host: '-f' }, no('parameter "host": may not start with "-"')],
  ['pattern with a substitution', 'host', { host: '$(id)' }, no('parameter "host": "$(id)" does not match ^[a-z0-9.-]+$')],
  ['pattern with backticks', 'host', { host: '`id`' }, no('parameter "host": "`id`" does not match ^[a-z0-9.-]+$')],
  ['pattern with NUL', 'host', { host: 'a\u0000b' }, no('parameter "host": control characters (NUL, newline, …) are not allowed')],
  ['pattern with CR', 'msg', { msg: 'a\rb' }, no('parameter "msg": control characters (NUL, newline, …) are not allowed')],
  ['anything-pattern: newline still refused', 'msg', { msg: 'hi\nthere' }, no('parameter "msg": control characters (NUL, newline, …) are not allowed')],
  ['anything-pattern: option still refused', 'msg', { msg: '--version' }, no('parameter "msg": may not start with "-"')],
  // Allowed by the owner's pattern: these stay one inert argv element (there is no shell).
  ['inert: ; rm -rf /', 'msg', { msg: '; rm -rf /' }, ok('/bin/echo', '; rm -rf /')],
  ['inert: $(id)', 'msg', { msg: '$(id)' }, ok('/bin/echo', '$(id)')],
  ['inert: backticks', 'msg', { msg: '`id`' }, ok('/bin/echo', '`id`')],
  ['inert: quotes and spaces', 'msg', { msg: `a 'b' "c" && d | e > /f` }, ok('/bin/echo', `a 'b' "c" && d | e > /f`)],
  ['inert: a placeholder in the value is not expanded again', 'msg', { msg: '{msg}' }, ok('/bin/echo', '{msg}')],
  // "^a|b$" is anchored only at one end per branch; the whole value must match anyway.
  ['alternation cannot match a prefix', 'alt', { v: 'a; reboot' }, no('parameter "v": "a; reboot" does not match ^a|b$')],
  ['alternation matches a whole value', 'alt', { v: 'b' }, ok('/bin/echo', 'b')],
];

describe('buildArgv', () => {
  for (const [what, spec, values, outcome] of ROWS) {
    it(what, () => {
      const specs = SPECS[spec] ?? {};
      const template = TEMPLATES[spec] ?? ['/bin/true'];
      assert.deepEqual(buildArgv(template, specs, values), outcome);
    });
  }

  it('a value fills exactly one argv element, however many words it has', () => {
    const r = buildArgv(['/bin/echo', '{msg}', 'end'], { msg: { pattern: '^.*$' } }, { msg: 'x y z' });
    assert.ok(r.ok);
    assert.equal(r.argv.length, 3);
  });

  it('never throws, whatever the values', () => {
    for (const v of [null, {}, [], true] as unknown as ParamValue[]) {
      for (const spec of [{ pattern: '^.*$' }, { enum: ['null', 'true', '[object Object]', ''] }, { type: 'integer' as const }]) {
        assert.deepEqual(buildArgv(['/bin/echo', '{msg}'], { msg: spec }, { msg: v }), { ok: false, message: 'parameter "msg": expected a string or an integer' });
      }
    }
  });
});
